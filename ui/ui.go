// Package ui serves Loupe's web UI, a single-page app whose built bundle (ui/dist, built
// from the TypeScript sources beside this file by `make ui`) is embedded in the binary.
package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
)

//go:embed dist
var dist embed.FS

// Handler serves the bundle: files under assets/ (content-hashed names) are cached for a
// year; any other path that is not a file gets index.html, uncached, so that client-side
// routes such as /traces/<id> survive a reload and a new release is picked up at once.
// Paths under the API prefixes (apiPrefixes) are 404: mount Handler at "/" beside the API
// handlers, and a typo in an API path stays an error instead of becoming the app's HTML.
func Handler() http.Handler {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		// The embed pattern guarantees dist exists; this cannot happen in a built binary.
		return http.NotFoundHandler()
	}
	index, _ := fs.ReadFile(root, "index.html")
	return &handler{root: root, files: http.FileServerFS(root), csp: contentSecurityPolicy(index)}
}

type handler struct {
	root  fs.FS
	files http.Handler
	csp   string
}

// apiPrefixes are the first path segments of the server's APIs (Loupe's, Prometheus'
// /api/v1, Loki's and its ruler's /prometheus, Jaeger's, Go's profiles); no page of the app
// uses them. /alertmanager is not one: without an embedded Alertmanager the Alerts page
// learns it is off from the index.html its request gets, where a 404 would be a console
// error in every browser.
var apiPrefixes = []string{"api", "loki", "jaeger", "prometheus", "debug"}

// inlineScript matches the inline scripts of index.html (the theme set before the first
// paint), whose hashes the policy allows.
var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// contentSecurityPolicy allows the app's own files, the inline scripts of index (by
// hash), inline styles (charts and tooltips set them) and data: images (the favicon),
// talks to its own origin only, and may not be framed (clickjacking).
func contentSecurityPolicy(index []byte) string {
	scripts := "'self'"
	for _, m := range inlineScript.FindAllSubmatch(index, -1) {
		sum := sha256.Sum256(m[1])
		scripts += " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return "default-src 'self'; script-src " + scripts + "; style-src 'self' 'unsafe-inline'; " +
		"img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; " +
		"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if top, _, _ := strings.Cut(name, "/"); slices.Contains(apiPrefixes, top) {
		// An API path no API handler took is a missing endpoint, not a page of the app.
		http.NotFound(w, r)
		return
	}
	if name != "" && name != "index.html" {
		if st, err := fs.Stat(h.root, name); err == nil && !st.IsDir() {
			if strings.HasPrefix(name, "assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			h.files.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(name, "assets/") {
			// A missing asset is a 404, not the app: a stale page asking for an old bundle
			// must fail visibly rather than parse HTML as JavaScript.
			http.NotFound(w, r)
			return
		}
	}
	h.serveIndex(w, r)
}

func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(h.root, "index.html")
	if err != nil {
		http.Error(w, "the UI bundle is missing index.html; run `make ui`", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}
