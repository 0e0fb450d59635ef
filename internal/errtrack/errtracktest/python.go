package errtracktest

import (
	"fmt"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// PythonEvent returns a realistic Sentry event of a Flask service, as the Python SDK sends
// it: a KeyError raised 15 frames deep (5 in-app) with context lines and local variables,
// 20 breadcrumbs, the request, tags, contexts and a user; about 9 KB as JSON. bug picks one
// of several distinct bugs (in-app functions differ), n makes the event unique. Not
// grouped: the Recorder does that.
func PythonEvent(n, bug int, at time.Time) errtrack.Event {
	frames := make([]errtrack.Frame, 0, 15)
	lib := []struct{ mod, fn string }{
		{"werkzeug.serving", "run_wsgi"}, {"werkzeug.serving", "execute"}, {"flask.app", "__call__"},
		{"flask.app", "wsgi_app"}, {"flask.app", "full_dispatch_request"}, {"flask.app", "dispatch_request"},
		{"sentry_sdk.integrations.flask", "_sentry_dispatch"}, {"sqlalchemy.orm.query", "first"},
		{"sqlalchemy.orm.query", "_iter"}, {"sqlalchemy.engine.base", "execute"},
	}
	for i, l := range lib {
		if i == 7 {
			break
		}
		frames = append(frames, frame(l.mod, l.fn, "/usr/lib/python3/dist-packages/"+l.mod+".py", 100+i*37, false))
	}
	app := []struct{ mod, fn string }{
		{"shop.views", fmt.Sprintf("view_%d", bug%10)}, {"shop.cart", "load_cart"}, {"shop.cart", "price_items"},
		{"shop.pricing", fmt.Sprintf("discount_%c", 'a'+bug%26)}, {"shop.pricing", "lookup_rate"},
	}
	for i, a := range app {
		frames = append(frames, frame(a.mod, a.fn, "/srv/shop/"+a.mod+".py", 20+i*11+n%7, true))
	}
	for _, l := range lib[7:] {
		frames = append(frames, frame(l.mod, l.fn, "/usr/lib/python3/dist-packages/"+l.mod+".py", 400, false))
	}
	crumbs := make([]errtrack.Breadcrumb, 20)
	for i := range crumbs {
		crumbs[i] = errtrack.Breadcrumb{
			Timestamp: at.Add(-time.Duration(20-i) * 100 * time.Millisecond), Type: "default", Category: "query",
			Level: "info", Message: fmt.Sprintf("SELECT id, price, qty FROM cart_items WHERE cart_id = %d AND sku = 'SKU-%d'", n, i),
			Data: map[string]any{"duration_ms": float64(i) * 1.5, "rows": float64(i % 4)},
		}
	}
	return errtrack.Event{
		EventID: fmt.Sprintf("%032x", n), Source: errtrack.SourceSentry, Project: "1", Service: "shop",
		Timestamp: at, Level: "error", Platform: "python", Release: "shop@1.4.2", Environment: "production",
		ServerName: "web-3", Logger: "flask.app", Transaction: "/cart/<id>/checkout",
		Exceptions: []errtrack.Exception{{Type: "KeyError", Value: fmt.Sprintf("'rate_%d'", n%50), Mechanism: "flask", Frames: frames}},
		Tags:       map[string]string{"browser": "Firefox 128", "os": "Linux", "url": "https://shop.example/cart/42/checkout", "handled": "no"},
		User:       &errtrack.User{ID: fmt.Sprint(n % 300), Email: fmt.Sprintf("user%d@example.com", n%300), IPAddress: "203.0.113.7"},
		Request: &errtrack.Request{Method: "POST", URL: "https://shop.example/cart/42/checkout", QueryString: "coupon=SPRING&session=abc",
			Headers: map[string]string{"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
				"Accept": "text/html", "Cookie": "session=abcdef", "Authorization": "Bearer eyJhbGciOi", "X-Forwarded-For": "203.0.113.7"},
			Data: map[string]any{"card": "4111 1111 1111 1111", "qty": "2", "password": "hunter2"}},
		Breadcrumbs: crumbs,
		Contexts: map[string]any{
			"runtime": map[string]any{"name": "CPython", "version": "3.12.3"},
			"os":      map[string]any{"name": "Linux", "version": "6.8.0"},
			"trace":   map[string]any{"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331", "op": "http.server"},
		},
		Extra:   map[string]any{"sys.argv": []any{"gunicorn", "shop:app"}, "api_token": "t0ps3cret"},
		TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331",
	}
}

func frame(mod, fn, path string, line int, inApp bool) errtrack.Frame {
	return errtrack.Frame{
		Module: mod, Function: fn, Filename: path[len(path)-min(len(path), 24):], AbsPath: path, Lineno: line, InApp: inApp,
		ContextLine: "    result = " + fn + "(request, cart_id=cart_id)",
		PreContext:  []string{"def " + fn + "(request, cart_id):", "    cart = Cart.load(cart_id)", "    if cart is None:", "        abort(404)"},
		PostContext: []string{"    db.session.commit()", "    return result", ""},
		Vars:        map[string]any{"request": "<Request 'https://shop.example/cart/42/checkout' [POST]>", "cart_id": "42", "self": "<shop.cart.Cart object at 0x7f3a2c1e4d90>"},
	}
}
