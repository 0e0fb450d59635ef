package native

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
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
