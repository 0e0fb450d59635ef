package native

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/tenant"
)

func TestStatusListeners(t *testing.T) {
	a := newTestAPI(&fakeStore{}, nil)
	decode := func(resp response) statusData {
		t.Helper()
		var d statusData
		require.NoError(t, json.Unmarshal(resp.Data, &d))
		return d
	}

	// Without WithListeners: the HTTP address is the one the request came in on.
	req := httptest.NewRequest(http.MethodGet, "/api/loupe/v1/status", nil)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40123}
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, local))
	d := decode(do(t, a, req, http.StatusOK))
	require.Equal(t, Listeners{HTTP: "127.0.0.1:40123"}, d.Listen)

	// With it: what the server reports, asked per request.
	calls := 0
	a.WithListeners(func() Listeners {
		calls++
		return Listeners{HTTP: "127.0.0.1:7070", OTLPGRPC: "127.0.0.1:43170", OTLPHTTP: "127.0.0.1:43180", StatsDUDP: "127.0.0.1:8125"}
	})
	d = decode(get(t, a, "/api/loupe/v1/status", http.StatusOK))
	require.Equal(t, Listeners{HTTP: "127.0.0.1:7070", OTLPGRPC: "127.0.0.1:43170", OTLPHTTP: "127.0.0.1:43180", StatsDUDP: "127.0.0.1:8125"}, d.Listen)
	require.Equal(t, 1, calls)

	get(t, a, "/api/loupe/v1/status/x", http.StatusNotFound)
}

// The status tells the tenant the request acted for when the server resolved one
// (tenants.enabled), and that tenants are off when it did not.
func TestStatusTenant(t *testing.T) {
	a := newTestAPI(&fakeStore{}, nil)
	raw := func(req *http.Request) map[string]any {
		t.Helper()
		var d map[string]any
		require.NoError(t, json.Unmarshal(do(t, a, req, http.StatusOK).Data, &d))
		return d
	}

	d := raw(httptest.NewRequest(http.MethodGet, "/api/loupe/v1/status", nil))
	require.Equal(t, false, d["tenants_enabled"])
	require.NotContains(t, d, "tenant")

	req := httptest.NewRequest(http.MethodGet, "/api/loupe/v1/status", nil)
	req = req.WithContext(tenant.With(req.Context(), "team-a"))
	d = raw(req)
	require.Equal(t, true, d["tenants_enabled"])
	require.Equal(t, "team-a", d["tenant"])

	// The header alone names no tenant: only the server's dispatch, which validates it, does.
	req = httptest.NewRequest(http.MethodGet, "/api/loupe/v1/status", nil)
	req.Header.Set(tenant.Header, "team-b")
	d = raw(req)
	require.Equal(t, false, d["tenants_enabled"])
	require.NotContains(t, d, "tenant")
}
