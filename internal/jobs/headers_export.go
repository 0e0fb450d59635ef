package jobs

import "net/http"

// OTLPHeaders returns the headers `loupe push` and `loupe run` send with their requests
// (OTEL_EXPORTER_OTLP_HEADERS, then LOUPE_TOKEN as a bearer token), for the other
// commands that talk to the server, so that one token configuration serves them all.
func OTLPHeaders(getenv func(string) string) http.Header { return otlpHeaders(getenv) }
