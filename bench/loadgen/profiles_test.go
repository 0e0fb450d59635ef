package loadgen

import (
	"bytes"
	"mime"
	"mime/multipart"
	"net/url"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"
)

// TestProfileGen checks that every kind of upload is a multipart form whose profile part
// is a gzipped pprof of the service, 10 s long, with rare stacks beside the real ones.
func TestProfileGen(t *testing.T) {
	g, err := NewProfileGen(1)
	require.NoError(t, err)
	end := time.Unix(1_800_000_000, 0)
	for _, kind := range ProfileKinds {
		b, err := g.Push("svc7", kind, end)
		require.NoError(t, err, kind)
		require.Equal(t, 1, b.Items)
		q, err := url.ParseQuery(b.Query)
		require.NoError(t, err)
		require.Equal(t, "svc7."+kind+"{env=bench}", q.Get("name"))
		require.Equal(t, "1799999990", q.Get("from"))
		require.Equal(t, "1800000000", q.Get("until"))
		_, params, err := mime.ParseMediaType(b.ContentType)
		require.NoError(t, err)
		part, err := multipart.NewReader(bytes.NewReader(b.Body), params["boundary"]).NextPart()
		require.NoError(t, err)
		require.Equal(t, "profile", part.FormName())
		p, err := profile.Parse(part)
		require.NoError(t, err, kind)
		require.Equal(t, int64(10*time.Second), p.DurationNanos)
		var rare, own bool
		for _, fn := range p.Function {
			rare = rare || bytes.HasPrefix([]byte(fn.Name), []byte("example.com/svc/internal/rare."))
			own = own || bytes.HasPrefix([]byte(fn.Name), []byte("example.com/svc7/"))
		}
		require.True(t, rare, "%s: no rare stack", kind)
		if kind == ProfileCPU {
			require.True(t, own, "the cpu profile's own functions carry the service")
		}
	}
	require.Positive(t, g.GzBytes)
	a, err := g.Push("svc7", ProfileCPU, end)
	require.NoError(t, err)
	b, err := g.Push("svc7", ProfileCPU, end)
	require.NoError(t, err)
	require.NotEqual(t, a.Body, b.Body, "each push is drawn anew")
}
