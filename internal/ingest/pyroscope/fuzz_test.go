package pyroscope

import (
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
