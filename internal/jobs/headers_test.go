package jobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOTLPHeaders(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	h := OTLPHeaders(env(map[string]string{
		"OTEL_EXPORTER_OTLP_HEADERS": "api-key=abc%3D1, X-Scope-OrgID=team-a,broken,=x",
		"LOUPE_TOKEN":                "loupe_tok",
	}))
	require.Equal(t, "abc=1", h.Get("Api-Key"))
	require.Equal(t, "team-a", h.Get("X-Scope-OrgID"))
	require.Equal(t, "Bearer loupe_tok", h.Get("Authorization"))
	require.Len(t, h, 3, "malformed entries are skipped: %v", h)

	h = OTLPHeaders(env(map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Basic%20eDp5", "LOUPE_TOKEN": "loupe_tok"}))
	require.Equal(t, "Basic eDp5", h.Get("Authorization"), "the OTel variable wins over LOUPE_TOKEN")
	require.Empty(t, OTLPHeaders(env(nil)))
}

// newHTTPClient's requests carry the token of LOUPE_TOKEN.
func TestPostOTLPSendsToken(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "")
	t.Setenv("LOUPE_TOKEN", "loupe_secret")
	require.NoError(t, postOTLP(context.Background(), newHTTPClient(5*time.Second), srv.URL, "traces", nil))
	require.Equal(t, "Bearer loupe_secret", got)
}

func TestChildOTLPHeaders(t *testing.T) {
	require.Equal(t, "Authorization=Bearer%20loupe_x", childOTLPHeaders(map[string]string{"LOUPE_TOKEN": "loupe_x"}))
	require.Empty(t, childOTLPHeaders(map[string]string{"LOUPE_TOKEN": "loupe_x", "OTEL_EXPORTER_OTLP_HEADERS": "a=b"}),
		"the job's own setting wins")
	require.Empty(t, childOTLPHeaders(map[string]string{}))
}
