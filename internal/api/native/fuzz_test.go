package native

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"now", "now-1h", "now+1d12h", "1700000000.123456789", "1.7e9", "-1",
		"2026-11-22T10:00:00Z", "2026-11-22T10:00:00.5+02:00", "now-", "9999999999999999999", "1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime(s, testNow)
		if err != nil {
			if !strings.Contains(err.Error(), "\"") {
				t.Fatalf("error %q does not quote the value", err)
			}
			return
		}
		if got.Before(minTime) || got.After(maxTime) {
			t.Fatalf("parseTime(%q) = %s, outside the storable range", s, got)
		}
		if got.Location() != time.UTC {
			t.Fatalf("parseTime(%q) is not UTC", s)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"100ms", "1.5s", "2m", "1d", "1w2d", "15", "0.5", "-1s", "1e30", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("parseDuration(%q) = %s, negative", s, d)
		}
	})
}

func FuzzParseAttrFilter(f *testing.F) {
	for _, s := range []string{"k=v", "k!=v", "k=~a.*", "k!~(a|b)", "=v", "k", "k=~(", "a.b=c=d", "k!x=y"} {
		f.Add(s)
	}
	ops := map[store.MatchOp]string{
		store.MatchEqual: "=", store.MatchNotEqual: "!=", store.MatchRegexp: "=~", store.MatchNotRegexp: "!~",
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAttrFilter(s)
		if err != nil {
			return
		}
		if strings.TrimSpace(a.Key) == "" {
			t.Fatalf("parseAttrFilter(%q): empty key", s)
		}
		if a.Op == store.MatchRegexp || a.Op == store.MatchNotRegexp {
			if _, err := regexp.Compile("^(?:" + a.Value + ")$"); err != nil {
				t.Fatalf("parseAttrFilter(%q) accepted an invalid regexp: %v", s, err)
			}
		}
		// Printing the filter back gives the same filter.
		again, err := parseAttrFilter(a.Key + ops[a.Op] + a.Value)
		if err != nil || again != a {
			t.Fatalf("round trip of %q: %+v then %+v, %v", s, a, again, err)
		}
	})
}

func FuzzParseSeverity(f *testing.F) {
	for _, s := range []string{"warn", "ERROR3", "1", "24", "0", "25", "warning", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSeverity(s)
		if err == nil && (n < 1 || n > 24) {
			t.Fatalf("parseSeverity(%q) = %d, outside 1..24", s, n)
		}
	})
}

// FuzzQueryString sends arbitrary query strings to the logs and traces routes: the answer
// is always a JSON envelope, a 200 or a 400, never a 500 or a panic.
func FuzzQueryString(f *testing.F) {
	for _, s := range []string{"", "start=now-1h&severity=warn&attr=a%3Db", "step=1s&start=0",
		"limit=5&cursor=AAAA", "min_duration=1d&errors=1", "%zz", "attr=a%3D~(", "start=now-100y&step=1"} {
		f.Add(s)
	}
	a := newTestAPI(&fakeStore{records: make([]store.LogRecord, 3)}, nil)
	f.Fuzz(func(t *testing.T, query string) {
		for _, route := range []string{"logs", "logs/counts", "traces"} {
			req := httptest.NewRequest(http.MethodGet, "/api/loupe/v1/"+route, nil)
			req.URL.RawQuery = query
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				t.Fatalf("%s?%s: status %d: %s", route, query, rec.Code, rec.Body)
			}
			var env envelope
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatalf("%s?%s: body is not JSON: %v", route, query, err)
			}
		}
	})
}
