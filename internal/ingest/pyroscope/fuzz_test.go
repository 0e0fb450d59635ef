package pyroscope

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// FuzzParseName checks the name parameter's parser: an error or a service name, never a
// panic or an empty service.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"app.cpu{env=prod,region=x}", "app{", "{a=b}", "a{b=c}}", "a.b.alloc_space{service_name=x}", "x{__session_id__=1,otel.scope.name=y}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseName(s)
		if err != nil {
			return
		}
		if n.service == "" || n.labels["service_name"] != n.service {
			t.Fatalf("parseName(%q) = %+v", s, n)
		}
		_, _ = parseTime(s, time.Unix(0, 0))
	})
}

// FuzzIngest sends arbitrary bodies to the handler as pprof, folded and multipart uploads:
// any answer but a 5xx is fine (the recorder never fails), a panic is not.
func FuzzIngest(f *testing.F) {
	f.Add(cpuProfile(), "pprof", "")
	f.Add([]byte("main;work 3\n"), "folded", "")
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"p\"\r\n\r\nabc\r\n--x--\r\n"), "", "multipart/form-data; boundary=x")
	h := NewHandler(&recorder{}, DefaultOptions(), nil, nil)
	f.Fuzz(func(t *testing.T, body []byte, format, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/ingest?name=app&format="+url.QueryEscape(format), bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}
