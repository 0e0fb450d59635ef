// Command proxy serves the embedded UI and forwards API paths to a running Loupe server,
// for the browser tests and for UI work while the server does not mount the UI itself.
//
//	go run ./ui/e2e/proxy -listen 127.0.0.1:0 -backend http://127.0.0.1:7070
//
// It prints one JSON line {"msg":"ready","http":"<addr>"} once it listens.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"

	"github.com/loupe-dev/loupe/ui"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	backend := flag.String("backend", "http://127.0.0.1:7070", "Loupe server to forward /api/ to")
	flag.Parse()
	if err := run(*listen, *backend); err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
}

func run(listen, backend string) error {
	target, err := url.Parse(backend)
	if err != nil {
		return fmt.Errorf("parse -backend: %w", err)
	}
	mux := http.NewServeMux()
	api := httputil.NewSingleHostReverseProxy(target)
	for _, p := range []string{"/api/", "/loki/", "/metrics", "/-/"} {
		mux.Handle(p, api)
	}
	mux.Handle("/", ui.Handler())
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	line, _ := json.Marshal(map[string]string{"msg": "ready", "http": ln.Addr().String()})
	fmt.Println(string(line))
	return http.Serve(ln, mux)
}
