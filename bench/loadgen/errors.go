package loadgen

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Errors is the signal of error events, sent as Sentry SDKs send them.
const Errors = "errors"

// SentryEnvelope posts one event per envelope to <dsn host>/api/<project>/envelope/,
// gzip-compressed with the DSN's key in X-Sentry-Auth, as the Python SDK's transport does.
// Its endpoint is the DSN itself: http://<key>@<host:port>/<project>.
const SentryEnvelope = "sentry-envelope"

// ErrorOptions configure an ErrorGen.
type ErrorOptions struct {
	Seed uint64
	// Bugs is how many distinct bugs raise the events (each a different exception type and
	// in-app call path, so one issue each).
	Bugs        int
	Frames      int // stack frames per event (the bug's in-app frames among library ones)
	Breadcrumbs int
	Users       int // distinct user ids the events come from
	Start       time.Time
	Interval    time.Duration // between consecutive events' timestamps
}

// DefaultErrorOptions returns the issue 11 benchmark's event: a Python exception in a
// Flask view, 15 frames with context lines and local variables, 20 breadcrumbs, from one
// of 40 bugs and 1,000 users (~15 KB of JSON, ~3 KB gzip-compressed).
func DefaultErrorOptions() ErrorOptions {
	return ErrorOptions{Seed: 1, Bugs: 40, Frames: 15, Breadcrumbs: 20, Users: 1000,
		Start: time.Now().Add(-time.Hour), Interval: time.Millisecond}
}

// ErrorGen generates Sentry envelopes, each carrying one Python error event. Not safe for
// concurrent use.
type ErrorGen struct {
	o     ErrorOptions
	rng   *rand.Rand
	bugs  []bug
	n     int
	buf   bytes.Buffer
	gz    *gzip.Writer
	idBuf [16]byte
}

// bug is one defect of the synthetic application: where it is raised and what it says.
type bug struct {
	typ, module, value string
	path               []frameDef // in-app frames, outermost first
	route              string
}

type frameDef struct{ module, function string }

// NewErrorGen returns a generator of o's events.
func NewErrorGen(o ErrorOptions) (*ErrorGen, error) {
	if o.Bugs <= 0 || o.Frames < 4 || o.Breadcrumbs < 0 || o.Users <= 0 {
		return nil, fmt.Errorf("error events: bugs %d, frames %d (at least 4), breadcrumbs %d, users %d", o.Bugs, o.Frames, o.Breadcrumbs, o.Users)
	}
	g := &ErrorGen{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x5e17))}
	g.gz, _ = gzip.NewWriterLevel(&g.buf, gzip.DefaultCompression)
	types := []struct{ typ, module, value string }{
		{"KeyError", "builtins", "'rate_%d'"}, {"ValueError", "builtins", "invalid literal for int() with base 10: 'x%d'"},
		{"TypeError", "builtins", "unsupported operand type(s) for +: 'int' and 'NoneType'"},
		{"AttributeError", "builtins", "'NoneType' object has no attribute 'price_%d'"},
		{"ZeroDivisionError", "builtins", "division by zero"},
		{"IntegrityError", "sqlalchemy.exc", "duplicate key value violates unique constraint \"orders_pkey\" DETAIL: Key (id)=(%d) already exists."},
		{"TimeoutError", "builtins", "timed out after 30.0 seconds talking to 10.0.3.%d:5432"},
		{"ConnectionError", "requests.exceptions", "HTTPSConnectionPool(host='payments.internal', port=443): Max retries exceeded with url: /v1/charge/%d"},
	}
	modules := []string{"shop.views", "shop.cart", "shop.pricing", "shop.orders", "shop.payments", "shop.users", "shop.search", "shop.inventory"}
	verbs := []string{"load", "price", "apply", "validate", "charge", "reserve", "lookup", "render", "sync", "notify"}
	for i := range o.Bugs {
		t := types[i%len(types)]
		b := bug{typ: t.typ, module: t.module, value: t.value, route: fmt.Sprintf("/%s/<id>/%s", []string{"cart", "orders", "users", "search"}[i%4], verbs[i%len(verbs)])}
		for d := range 5 {
			b.path = append(b.path, frameDef{modules[(i+d)%len(modules)], fmt.Sprintf("%s_%s_%d", verbs[(i*3+d)%len(verbs)], strings.TrimPrefix(modules[(i+d)%len(modules)], "shop."), i)})
		}
		g.bugs = append(g.bugs, b)
	}
	return g, nil
}

// Generated returns how many events were generated.
func (g *ErrorGen) Generated() int { return g.n }

// Next returns the next envelope, gzip-compressed, carrying one event.
func (g *ErrorGen) Next() (Batch, error) {
	raw, err := g.envelope()
	if err != nil {
		return Batch{}, err
	}
	g.buf.Reset()
	g.gz.Reset(&g.buf)
	if _, err := g.gz.Write(raw); err != nil {
		return Batch{}, fmt.Errorf("gzip envelope: %w", err)
	}
	if err := g.gz.Close(); err != nil {
		return Batch{}, fmt.Errorf("gzip envelope: %w", err)
	}
	return Batch{Body: bytes.Clone(g.buf.Bytes()), Items: 1, Raw: raw}, nil
}

// ErrorSource yields envelopes from g until events were produced.
func ErrorSource(g *ErrorGen, events int) Source {
	return SourceFunc(func() (Batch, bool, error) {
		if g.n >= events {
			return Batch{}, false, nil
		}
		b, err := g.Next()
		return b, err == nil, err
	})
}

func (g *ErrorGen) hexID() string {
	for i := range g.idBuf {
		g.idBuf[i] = byte(g.rng.Uint32())
	}
	return hex.EncodeToString(g.idBuf[:])
}

// envelope returns the next event as an envelope: header, item header, event JSON.
func (g *ErrorGen) envelope() ([]byte, error) {
	n := g.n
	g.n++
	at := g.o.Start.Add(time.Duration(n) * g.o.Interval)
	b := g.bugs[g.rng.IntN(len(g.bugs))]
	eventID, traceID := g.hexID(), g.hexID()
	user := g.rng.IntN(g.o.Users)
	value := b.value
	if strings.Contains(value, "%d") {
		value = fmt.Sprintf(value, g.rng.IntN(1000))
	}
	ev := map[string]any{
		"event_id": eventID, "timestamp": float64(at.UnixMicro()) / 1e6, "platform": "python", "level": "error",
		"server_name": fmt.Sprintf("web-%d", user%6), "release": "shop@1.4.2", "environment": "production",
		"transaction": b.route, "transaction_info": map[string]any{"source": "route"},
		"exception": map[string]any{"values": []any{map[string]any{
			"type": b.typ, "value": value, "module": b.module,
			"mechanism":  map[string]any{"type": "flask", "handled": false},
			"stacktrace": map[string]any{"frames": g.frames(b, n)},
		}}},
		"breadcrumbs": map[string]any{"values": g.breadcrumbs(at, user)},
		"tags":        map[string]any{"browser": "Firefox 128", "os": "Linux", "url": "https://shop.example" + b.route, "handled": "no"},
		"user":        map[string]any{"id": fmt.Sprint(user), "email": fmt.Sprintf("user%d@example.com", user), "ip_address": "{{auto}}"},
		"request": map[string]any{"method": "POST", "url": "https://shop.example/cart/42/checkout", "query_string": "coupon=SPRING&session=abc",
			"headers": map[string]any{"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
				"Accept": "text/html", "Cookie": "session=abcdef", "Authorization": "Bearer eyJhbGciOi", "X-Forwarded-For": "203.0.113.7"},
			"data": map[string]any{"card": "4111 1111 1111 1111", "qty": "2", "password": "hunter2"},
			"env":  map[string]any{"SERVER_NAME": "shop.example", "SERVER_PORT": "443"}},
		"contexts": map[string]any{
			"runtime": map[string]any{"name": "CPython", "version": "3.12.3", "build": "3.12.3 (main, Apr 10 2024, 05:33:47) [GCC 13.2.0]"},
			"os":      map[string]any{"name": "Linux", "version": "6.8.0"},
			"trace":   map[string]any{"trace_id": traceID, "span_id": traceID[:16], "op": "http.server", "status": "internal_error"},
		},
		"extra":   map[string]any{"sys.argv": []any{"gunicorn", "shop:app"}},
		"modules": pythonModules,
		"sdk": map[string]any{"name": "sentry.python.flask", "version": "2.19.2",
			"packages":     []any{map[string]any{"name": "pypi:sentry-sdk", "version": "2.19.2"}},
			"integrations": []any{"argv", "atexit", "dedupe", "excepthook", "flask", "logging", "modules", "stdlib", "threading"}},
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	var env bytes.Buffer
	fmt.Fprintf(&env, `{"event_id":%q,"sent_at":%q,"sdk":{"name":"sentry.python.flask","version":"2.19.2"}}`+"\n", eventID, at.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(&env, `{"type":"event","content_type":"application/json","length":%d}`+"\n", len(body))
	env.Write(body)
	env.WriteByte('\n')
	return env.Bytes(), nil
}

// frames returns the stack of one event: library frames around the bug's in-app path,
// outermost first, as the Python SDK sends them.
func (g *ErrorGen) frames(b bug, n int) []any {
	lib := []frameDef{{"werkzeug.serving", "run_wsgi"}, {"werkzeug.serving", "execute"}, {"flask.app", "__call__"},
		{"flask.app", "wsgi_app"}, {"flask.app", "full_dispatch_request"}, {"flask.app", "dispatch_request"},
		{"sentry_sdk.integrations.flask", "_sentry_dispatch"}, {"sqlalchemy.orm.query", "first"},
		{"sqlalchemy.orm.query", "_iter"}, {"sqlalchemy.engine.base", "execute"}}
	inApp := len(b.path)
	outer := max(0, min(7, g.o.Frames-inApp))
	var out []any
	add := func(f frameDef, app bool, line int) {
		path := "/srv/shop/" + strings.ReplaceAll(f.module, ".", "/") + ".py"
		if !app {
			path = "/usr/lib/python3/dist-packages/" + strings.ReplaceAll(f.module, ".", "/") + ".py"
		}
		out = append(out, map[string]any{
			"filename": path[strings.LastIndex(path, "/")+1:], "abs_path": path, "function": f.function, "module": f.module,
			"lineno": line, "in_app": app,
			"pre_context":  []any{"def " + f.function + "(request, cart_id):", "    cart = Cart.load(cart_id)", "    if cart is None:", "        abort(404)"},
			"context_line": "    result = " + f.function + "(request, cart_id=cart_id)",
			"post_context": []any{"    db.session.commit()", "    return result", ""},
			"vars": map[string]any{"request": "<Request 'https://shop.example/cart/42/checkout' [POST]>", "cart_id": fmt.Sprint(n % 997),
				"self": "<shop.cart.Cart object at 0x7f3a2c1e4d90>"},
		})
	}
	for i := range outer {
		add(lib[i], false, 100+37*i)
	}
	for i, f := range b.path {
		add(f, true, 20+11*i+n%7) // line numbers move between releases: same issue
	}
	for i := 0; len(out) < g.o.Frames; i++ {
		add(lib[7+i%3], false, 400+i)
	}
	return out
}

func (g *ErrorGen) breadcrumbs(at time.Time, user int) []any {
	out := make([]any, g.o.Breadcrumbs)
	for i := range out {
		ts := at.Add(-time.Duration(g.o.Breadcrumbs-i) * 100 * time.Millisecond)
		out[i] = map[string]any{"timestamp": float64(ts.UnixMicro()) / 1e6, "type": "default", "category": "query", "level": "info",
			"message": fmt.Sprintf("SELECT id, price, qty FROM cart_items WHERE cart_id = %d AND sku = 'SKU-%d'", user, g.rng.IntN(5000)),
			"data":    map[string]any{"duration_ms": float64(g.rng.IntN(400)) / 10, "rows": g.rng.IntN(4)}}
	}
	return out
}

// pythonModules is the "modules" map the Python SDK's Modules integration adds to every
// event: the installed packages and their versions.
var pythonModules = func() map[string]any {
	m := map[string]any{}
	for _, p := range strings.Fields(`flask=3.0.3 werkzeug=3.0.4 jinja2=3.1.4 itsdangerous=2.2.0 click=8.1.7
		markupsafe=2.1.5 blinker=1.8.2 sqlalchemy=2.0.35 psycopg2-binary=2.9.9 alembic=1.13.3 redis=5.1.1
		celery=5.4.0 kombu=5.4.2 billiard=4.2.1 vine=5.1.0 amqp=5.2.0 requests=2.32.3 urllib3=2.2.3
		certifi=2024.8.30 idna=3.10 charset-normalizer=3.4.0 gunicorn=23.0.0 sentry-sdk=2.19.2
		pydantic=2.9.2 pydantic-core=2.23.4 typing-extensions=4.12.2 python-dateutil=2.9.0 six=1.16.0
		pytz=2024.2 stripe=11.1.0 boto3=1.35.40 botocore=1.35.40 jmespath=1.0.1 s3transfer=0.10.3
		marshmallow=3.22.0 pyjwt=2.9.0 cryptography=43.0.1 cffi=1.17.1 pycparser=2.22 pip=24.2`) {
		name, version, _ := strings.Cut(p, "=")
		m[name] = version
	}
	return m
}()

// sentryTarget is where a SentryEnvelope sender posts: the envelope URL and the auth
// header of a DSN.
func sentryTarget(dsn string) (endpoint, auth string, err error) {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil || u.User.Username() == "" || u.Host == "" {
		return "", "", fmt.Errorf("sentry-envelope wants a DSN such as http://<key>@127.0.0.1:7070/1 as endpoint, got %q", dsn)
	}
	project := strings.Trim(u.Path, "/")
	if project == "" || strings.Contains(project, "/") {
		return "", "", fmt.Errorf("DSN %q: the path must be the project id", dsn)
	}
	endpoint = fmt.Sprintf("%s://%s/api/%s/envelope/", u.Scheme, u.Host, project)
	auth = "Sentry sentry_version=7, sentry_client=loupe-bench/1, sentry_key=" + u.User.Username()
	return endpoint, auth, nil
}
