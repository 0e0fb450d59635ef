package scrub

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestSecretKey(t *testing.T) {
	for _, k := range []string{
		"password", "db.password", "DB_PASSWORD", "http.request.header.authorization", "X-Api-Key",
		"x-auth-token", "clientSecret", "accessToken", "api_key", "apiKey", "private-key", "cookie",
		"http.request.header.cookie", "set-cookie", "aws.secret_access_key", "card_number", "creditCard",
		"user.pass", "github.token", "jwt",
	} {
		require.True(t, SecretKey(k), k)
	}
	for _, k := range []string{
		"gen_ai.usage.input_tokens", "author", "session.id", "bypass", "passed", "http.route",
		"service.name", "keyboard", "key", "monkey", "user.id", "tokenizer", "http.request.header.accept",
	} {
		require.False(t, SecretKey(k), k)
	}
}

func newTest(t *testing.T, opts Options) (*Scrubber, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(opts, reg)
	require.NoError(t, err)
	return s, reg
}

func TestTextDefaults(t *testing.T) {
	s, reg := newTest(t, Options{})
	for in, want := range map[string]string{
		"login failed password=hunter2 user=bob":           "login failed password=[Filtered] user=bob",
		`{"user":"bob","password":"hunter 2","n":1}`:       `{"user":"bob","password":"[Filtered]","n":1}`,
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x": "Authorization: [Filtered]",
		"sent header Bearer abcdefgh12345 upstream":        "sent header Bearer [Filtered] upstream",
		"curl -H 'Authorization: Basic dXNlcjpwYXNz'":      "curl -H 'Authorization: [Filtered]'",
		"connect postgres://app:s3cr3t@db:5432/x failed":   "connect postgres://app:[Filtered]@db:5432/x failed",
		"paid with 4111 1111 1111 1111 today":              "paid with [Filtered] today",
		"cards 4111 1111 1111 1111 5500-0000-0000-0004":    "cards [Filtered] [Filtered]",
		"trace 41111111111111114111111111111111 ok":        "trace 41111111111111114111111111111111 ok",
		"ts=1733500000000 ns=1796605335123456789":          "ts=1733500000000 ns=1796605335123456789",
		"api_key = 'abc123' rest":                          "api_key = '[Filtered]' rest",
		"GET /search?q=x&token=abc&page=2":                 "GET /search?q=x&token=[Filtered]&page=2",
		// Left alone: no secret key, Luhn fails, a too-short bearer word, a URL without a password.
		"order 4111 1111 1111 1112 shipped":            "order 4111 1111 1111 1112 shipped",
		"user=bob action=login duration=3ms":           "user=bob action=login duration=3ms",
		"the bearer of bad news":                       "the bearer of bad news",
		"fetch https://bob@example.com/x":              "fetch https://bob@example.com/x",
		"2024-01-01T10:00:00Z INFO started":            "2024-01-01T10:00:00Z INFO started",
		"input_tokens=52 output_tokens=7":              "input_tokens=52 output_tokens=7",
		"password=":                                    "password=",
		"DB_PASS=[REDACTED] x":                         "DB_PASS=[REDACTED] x",
		"https://u:[REDACTED]@h/x":                     "https://u:[REDACTED]@h/x",
		`{"url":"https://host.example","email":"a@b"}`: `{"url":"https://host.example","email":"a@b"}`,
		`{"url":"https://u:pw@host"}`:                  `{"url":"https://u:[Filtered]@host"}`,
		`{"msg":"retry password=\"x y\" now"}`:         `{"msg":"retry password=\"[Filtered]\" now"}`,
		`{"":"pass="}`:                                 `{"":"pass="}`, // the quote ends the JSON string
		`cut short password="hunter2`:                  `cut short password="[Filtered]`,
	} {
		require.Equal(t, want, s.String("logs", "", in), in)
	}
	require.Equal(t, 3.0, testutil.ToFloat64(s.counts.WithLabelValues("logs", RuleCardNumber)))
	require.Equal(t, 2.0, testutil.ToFloat64(s.counts.WithLabelValues("logs", RuleURLPassword)))
	require.Equal(t, 1.0, testutil.ToFloat64(s.counts.WithLabelValues("logs", RuleBearer)))
	require.Equal(t, 8.0, testutil.ToFloat64(s.counts.WithLabelValues("logs", RuleSecretKeyValue)), "secret key texts")
	n, err := testutil.GatherAndCount(reg, "loupe_scrubbed_values_total")
	require.NoError(t, err)
	require.Equal(t, 4, n)
}

func TestNoDefaults(t *testing.T) {
	s, _ := newTest(t, Options{NoDefaults: true})
	in := "password=hunter2 4111 1111 1111 1111"
	require.Equal(t, in, s.String("logs", "", in))
	require.Equal(t, "x", s.String("logs", "password", "x"))
}

// TestRedactedKept: a value a sender already replaced (loupe run's [REDACTED]) stays as
// the sender wrote it, under a secret key and inside texts.
func TestRedactedKept(t *testing.T) {
	s, _ := newTest(t, Options{})
	require.Equal(t, "[REDACTED]", s.String("logs", "MY_DB_PASS", "[REDACTED]"))
	ld := plog.NewLogs()
	attrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes()
	attrs.PutStr("SLURM_DB_PASS", "[REDACTED]")
	attrs.PutStr("db.password", "real")
	s.Logs(ld)
	require.Equal(t, map[string]any{"SLURM_DB_PASS": "[REDACTED]", "db.password": Filtered}, attrs.AsRaw())
}

func TestConfiguredRules(t *testing.T) {
	s, _ := newTest(t, Options{HashSalt: "pepper", Rules: []Rule{
		{Name: "email", Regexp: regexp.MustCompile(`[\w.+-]+@[\w-]+\.[\w.]+`), Hash: true},
		{Name: "customer", Keys: []string{"Customer.ID"}, Replacement: "[customer]"},
		{Name: "ssn", Regexp: regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`), Replacement: "[ssn]"},
	}})
	a := s.String("logs", "", "mail to ann@example.com sent")
	b := s.String("logs", "", "again ann@example.com")
	require.Regexp(t, `^mail to sha256:[0-9a-f]{16} sent$`, a)
	require.Equal(t, strings.TrimPrefix(a, "mail to ")[:23], strings.TrimPrefix(b, "again "), "equal values hash equally")
	require.Equal(t, "[customer]", s.String("logs", "customer.id", "c-42"))
	require.Equal(t, "ssn [ssn] on file", s.String("logs", "note", "ssn 123-45-6789 on file"))

	other, _ := newTest(t, Options{HashSalt: "salt", Rules: []Rule{{Name: "email", Regexp: regexp.MustCompile(`\S+@\S+`), Hash: true}}})
	require.NotEqual(t, a[len("mail to "):len("mail to ")+23], other.String("logs", "", "ann@example.com"), "the salt changes the hash")

	_, err := New(Options{Rules: []Rule{{Name: "both", Keys: []string{"a"}, Regexp: regexp.MustCompile("a")}}}, nil)
	require.ErrorContains(t, err, `scrub rule "both": give either keys or a regex`)
	_, err = New(Options{Rules: []Rule{{Keys: []string{"a"}}}}, nil)
	require.ErrorContains(t, err, "no name")
}

func TestLogs(t *testing.T) {
	s, _ := newTest(t, Options{})
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	rl.Resource().Attributes().PutStr("deploy.token", "tok-123")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("retrying with password=hunter2")
	lr.Attributes().PutStr("db.password", "hunter2")
	lr.Attributes().PutInt("gen_ai.usage.input_tokens", 52)
	lr.Attributes().PutInt("token_count", 3)
	hdr := lr.Attributes().PutEmptySlice("http.request.header.authorization")
	hdr.AppendEmpty().SetStr("Bearer abcdefgh123")
	lr.Attributes().PutEmptyBytes("api_key").FromRaw([]byte("raw"))
	body := plog.NewLogs().ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	m := body.Body().SetEmptyMap()
	m.PutStr("msg", "card 4111-1111-1111-1111")
	m.PutEmptyMap("user").PutStr("password", "x")
	body.CopyTo(rl.ScopeLogs().At(0).LogRecords().AppendEmpty())

	s.Logs(ld)
	recs := rl.ScopeLogs().At(0).LogRecords()
	require.Equal(t, map[string]any{"service.name": "api", "deploy.token": Filtered}, rl.Resource().Attributes().AsRaw())
	require.Equal(t, "retrying with password=[Filtered]", recs.At(0).Body().Str())
	require.Equal(t, map[string]any{
		"db.password": Filtered, "gen_ai.usage.input_tokens": int64(52), "token_count": int64(3),
		"http.request.header.authorization": []any{Filtered}, "api_key": Filtered,
	}, recs.At(0).Attributes().AsRaw())
	require.Equal(t, map[string]any{"msg": "card " + Filtered, "user": map[string]any{"password": Filtered}}, recs.At(1).Body().Map().AsRaw())
}

func TestTraces(t *testing.T) {
	s, reg := newTest(t, Options{})
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("GET /login")
	span.Attributes().PutStr("url.full", "https://u:pw@example.com/login?token=abc")
	span.Attributes().PutStr("http.route", "/login")
	ev := span.Events().AppendEmpty()
	ev.Attributes().PutStr("exception.message", "bad password=hunter2")
	span.Links().AppendEmpty().Attributes().PutStr("client_secret", "s")

	s.Traces(td)
	require.Equal(t, "https://u:[Filtered]@example.com/login?token=[Filtered]", mustStr(t, span.Attributes(), "url.full"))
	require.Equal(t, "/login", mustStr(t, span.Attributes(), "http.route"))
	require.Equal(t, "bad password=[Filtered]", mustStr(t, ev.Attributes(), "exception.message"))
	require.Equal(t, Filtered, mustStr(t, span.Links().At(0).Attributes(), "client_secret"))
	require.Equal(t, "GET /login", span.Name())
	n, err := testutil.GatherAndCount(reg, "loupe_scrubbed_values_total")
	require.NoError(t, err)
	require.Equal(t, 3, n, "spans: url_password, secret_key_text, secret_key")
}

func mustStr(t *testing.T, m pcommon.Map, k string) string {
	t.Helper()
	v, ok := m.Get(k)
	require.True(t, ok, k)
	return v.Str()
}

var plantedCard = regexp.MustCompile(`(^|[^0-9])4111111111111111([^0-9]|$)`)

// FuzzText checks that the text rules never panic, are idempotent, and leave no valid card
// number of 16 digits planted in the input.
func FuzzText(f *testing.F) {
	for _, s := range []string{`{"url":"https://host.example","email":"a@b"}`, `{"k":"password=\"x y\" z"}`, "password=x", `{"token": "a\"b"}`, "Bearer abcdefghij", "x://a:b@c", "4111 1111 1111 1111", "api_key = ", "::==@@"} {
		f.Add(s)
	}
	s, err := New(Options{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := s.String("logs", "", in+" 4111111111111111 ")
		// The planted card must not survive as a number of its own (the fuzzer's digits may
		// contain the same digits inside a longer number, which is no card).
		if plantedCard.MatchString(out) {
			t.Fatalf("card number kept: %q", out)
		}
		if again := s.String("logs", "", out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		// JSON stays JSON: run records and structured log lines are parsed after scrubbing.
		// (Not when a card number is a JSON number: it becomes [Filtered], as in a string.)
		if json.Valid([]byte(in)) && !strings.ContainsAny(in, "23456") && !json.Valid([]byte(s.String("logs", "", in))) {
			t.Fatalf("valid JSON made invalid: %q -> %q", in, s.String("logs", "", in))
		}
	})
}

// BenchmarkLogs scrubs a batch of 100 typical records (a body with key=value pairs and a
// timestamp, five attributes) that hold no secret: the cost every log record pays.
func BenchmarkLogs(b *testing.B) {
	s, err := New(Options{}, nil)
	require.NoError(b, err)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutStr("host.name", "node-17.cluster.local")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < 100; i++ {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr("2026-12-06T10:00:00Z INFO request handled method=GET path=/api/cart/42 status=200 duration=3.2ms user=u-31337")
		lr.Attributes().PutStr("http.route", "/api/cart/{id}")
		lr.Attributes().PutInt("http.response.status_code", 200)
		lr.Attributes().PutStr("url.full", "https://shop.example.com/api/cart/42?page=2")
		lr.Attributes().PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)")
		lr.Attributes().PutStr("session.id", "9f86d081884c7d65")
	}
	b.ResetTimer()
	for range b.N {
		s.Logs(ld)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/record")
}

// FuzzCards checks that Cards changes its input only by putting Filtered in place of digits.
func FuzzCards(f *testing.F) {
	f.Add("4111 1111 1111 1111")
	f.Add("x4111-1111-1111-1111-1111-1111y")
	f.Fuzz(func(t *testing.T, s string) {
		out, n := Cards(s)
		if (out != s) != (n > 0) || n > 0 && !strings.Contains(out, Filtered) {
			t.Fatalf("%q -> %q, %d replaced", s, out, n)
		}
		if again, m := Cards(out); m != 0 || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}
