package sentry

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/loupe-dev/loupe/internal/ingest/httpbody"
)

// RequestKey returns the DSN public key of a request from X-Sentry-Auth (or an
// Authorization header in the same "Sentry sentry_key=..., ..." form) or the sentry_key
// query parameter; "" when it has none (the envelope header's dsn may still name one).
func RequestKey(r *http.Request) string {
	for _, name := range []string{"X-Sentry-Auth", "Authorization"} {
		if k := authHeaderKey(r.Header.Get(name)); k != "" {
			return k
		}
	}
	return r.URL.Query().Get("sentry_key")
}

// authHeaderKey reads sentry_key from "Sentry sentry_version=7, sentry_key=KEY, ...".
func authHeaderKey(v string) string {
	v = strings.TrimSpace(v)
	if len(v) < 7 || !strings.EqualFold(v[:7], "sentry ") {
		return ""
	}
	for _, part := range strings.Split(v[7:], ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.TrimSpace(name) == "sentry_key" {
			return strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return ""
}

// dsnKey returns the public key (the user part) of a DSN.
func dsnKey(dsn string) string {
	if dsn == "" {
		return ""
	}
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return ""
	}
	return u.User.Username()
}

// readBody reads the body, undoing a gzip or deflate Content-Encoding, and refuses more
// than limit bytes before or after decompression (413): a small compressed body can
// expand to gigabytes.
func readBody(r *http.Request, limit int64) ([]byte, *result) {
	var buf bytes.Buffer
	err := httpbody.Read(r, &buf, httpbody.Options{Limit: limit})
	var ue *httpbody.UnsupportedError
	switch {
	case errors.Is(err, httpbody.ErrTooLarge):
		return nil, &result{status: http.StatusRequestEntityTooLarge,
			detail: fmt.Sprintf("request body larger than %d bytes (limit max_request_bytes, after decompression)", limit)}
	case errors.As(err, &ue):
		return nil, &result{status: http.StatusUnsupportedMediaType,
			detail: fmt.Sprintf("unsupported Content-Encoding %s, want gzip, deflate or none (br and zstd are not supported)", clip(ue.Encoding))}
	case err != nil:
		// A *httpbody.CorruptError says "decompress <encoding> body: ...", others "read body: ...".
		return nil, &result{status: http.StatusBadRequest, detail: err.Error()}
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		return nil, &result{status: http.StatusBadRequest, detail: "empty body: want a Sentry envelope or event"}
	}
	return buf.Bytes(), nil
}

// legacyStoreBody undoes the encoding of old SDKs (raven) on the store endpoint: the
// event JSON, zlib-compressed and base64-encoded, without a Content-Encoding. Bodies that
// are not so encoded, or decode to more than limit bytes, are returned as they are (and
// then fail as JSON).
func legacyStoreBody(b []byte, limit int64) []byte {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] == '{' {
		return b
	}
	dec, err := base64.StdEncoding.DecodeString(string(t))
	if err != nil {
		return b
	}
	zr, err := zlib.NewReader(bytes.NewReader(dec))
	if err != nil {
		return b
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil || int64(len(out)) > limit {
		return b
	}
	return out
}
