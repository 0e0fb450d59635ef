package native

import (
	"net"
	"net/http"

	"github.com/loupe-dev/loupe/internal/tenant"
	"github.com/loupe-dev/loupe/internal/version"
)

// Listeners are the addresses the server is bound to, as host:port ("" for a listener that
// is off). The UI shows them in its "how to send data" hints instead of guessing defaults.
type Listeners struct {
	HTTP      string `json:"http"`
	OTLPGRPC  string `json:"otlp_grpc"`
	OTLPHTTP  string `json:"otlp_http"`
	StatsDUDP string `json:"statsd_udp,omitempty"`
	StatsDTCP string `json:"statsd_tcp,omitempty"`
}

type statusData struct {
	Version string    `json:"version"`
	Listen  Listeners `json:"listen"`
	// Tenant is the tenant this request acted for, and TenantsEnabled whether the server
	// resolved one (tenants.enabled): the UI shows it in its header, and offers operators
	// a picker only when tenants are on.
	Tenant         string `json:"tenant,omitempty"`
	TenantsEnabled bool   `json:"tenants_enabled"`
}

// WithListeners makes the status route report the addresses f returns. f is called per
// request (listeners bound to port 0 are known only once started) and must be safe for
// concurrent use. Without it only the HTTP address is reported, taken from the request.
// It returns a for chaining.
func (a *API) WithListeners(f func() Listeners) *API {
	a.listeners = f
	return a
}

// status answers GET status: the version, the listen addresses and the request's tenant.
func (a *API) status(r *http.Request) result {
	var l Listeners
	if a.listeners != nil {
		l = a.listeners()
	}
	if l.HTTP == "" {
		// The address this request came in on is the HTTP listener's.
		if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			l.HTTP = addr.String()
		}
	}
	d := statusData{Version: version.Get().Version, Listen: l}
	// The server's tenant dispatch (internal/server/tenants.go) puts the tenant in the
	// context only with tenants.enabled; without it there is no tenant to tell.
	d.Tenant, d.TenantsEnabled = tenant.From(r.Context())
	return result{data: d}
}
