package jobs

import (
	"net/http"
	"net/url"
	"strings"
)

// The OTLP requests of `loupe run` and `loupe push` carry the headers an OpenTelemetry
// exporter would send from the same environment, so that they reach a server that asks
// for a token (docs/security.md) configured the way users already configure their SDKs:
//
//   - OTEL_EXPORTER_OTLP_HEADERS, "key=value,key2=value2" with URL-encoded values
//     (e.g. "Authorization=Bearer%20loupe_..."), as the OTel SDKs read it;
//   - LOUPE_TOKEN, a Loupe API token, sent as "Authorization: Bearer <token>" unless
//     OTEL_EXPORTER_OTLP_HEADERS already sets Authorization.

// OTLPHeaders returns the headers for OTLP requests from getenv; the other commands that
// talk to the server (loupe profile push) send the same, so one token setting serves all.
func OTLPHeaders(getenv func(string) string) http.Header {
	h := http.Header{}
	for _, kv := range strings.Split(getenv("OTEL_EXPORTER_OTLP_HEADERS"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue // the SDKs skip a malformed entry too
		}
		if dec, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			v = dec
		}
		h.Set(k, v)
	}
	if tok := strings.TrimSpace(getenv("LOUPE_TOKEN")); tok != "" && h.Get("Authorization") == "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return h
}

// headerTransport adds fixed headers to every request.
type headerTransport struct {
	base    http.RoundTripper
	headers http.Header
}

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, vs := range t.headers {
		req.Header[k] = vs
	}
	return t.base.RoundTrip(req)
}

// childOTLPHeaders is OTEL_EXPORTER_OTLP_HEADERS for the job's own OpenTelemetry SDK when
// only LOUPE_TOKEN is set, so that an instrumented job reaches the same server; "" when
// there is nothing to add.
func childOTLPHeaders(env map[string]string) string {
	if _, ok := env["OTEL_EXPORTER_OTLP_HEADERS"]; ok {
		return ""
	}
	if tok := strings.TrimSpace(env["LOUPE_TOKEN"]); tok != "" {
		return "Authorization=" + url.PathEscape("Bearer "+tok)
	}
	return ""
}
