package prom

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Prometheus' API answers a query that ran past the engine's timeout with 503,
// errorType "timeout" and "query timed out in query execution", which does not say what
// to change. timeoutHint adds the configuration key (query.timeout) and its value to that
// message, as every other read API of Loupe does (querylimit.Timeout).
func timeoutHint(next http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &timeoutWriter{ResponseWriter: w}
		next.ServeHTTP(tw, r)
		tw.finish(timeout)
	})
}

// timeoutWriter holds back a 503 answer (small: an error envelope) to rewrite it; every
// other answer passes through untouched.
type timeoutWriter struct {
	http.ResponseWriter
	held   bool
	status int
	body   bytes.Buffer
}

func (w *timeoutWriter) WriteHeader(code int) {
	if code == http.StatusServiceUnavailable && !w.held && w.status == 0 {
		w.held, w.status = true, code
		return
	}
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *timeoutWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.held {
		return w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *timeoutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes through, except for a held answer (written whole by finish).
func (w *timeoutWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.held {
		f.Flush()
	}
}

func (w *timeoutWriter) finish(timeout time.Duration) {
	if !w.held {
		return
	}
	body := w.body.Bytes()
	if out, ok := addTimeoutKey(body, w.Header().Get("Content-Encoding"), timeout); ok {
		body = out
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(body)
}

// addTimeoutKey rewrites the error of a "timeout" envelope; ok is false for anything else.
func addTimeoutKey(body []byte, encoding string, timeout time.Duration) (_ []byte, ok bool) {
	gz := strings.EqualFold(encoding, "gzip")
	raw := body
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, false
		}
		if raw, err = io.ReadAll(io.LimitReader(zr, 1<<20)); err != nil {
			return nil, false
		}
	} else if encoding != "" {
		return nil, false
	}
	var env map[string]any
	if json.Unmarshal(raw, &env) != nil || env["errorType"] != "timeout" {
		return nil, false
	}
	msg, _ := env["error"].(string)
	env["error"] = fmt.Sprintf("%s: the query ran longer than %s (limit query.timeout); raise query.timeout to let such queries finish", msg, timeout)
	out, err := json.Marshal(env)
	if err != nil {
		return nil, false
	}
	if !gz {
		return out, true
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(out)
	if zw.Close() != nil {
		return nil, false
	}
	return b.Bytes(), true
}
