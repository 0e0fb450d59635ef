package otlp

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// A request that declares a large Content-Length but has sent no body yet must not make
// the handler allocate that length: before, readBody grew its buffer to the declared 16
// MiB at once, and 400 such connections held 5-6.5 GB.
func TestReadBodyDoesNotAllocateDeclaredLength(t *testing.T) {
	h := &httpHandler{maxBytes: 16 << 20}
	r := httptest.NewRequest(http.MethodPost, "/v1/traces", io.MultiReader()) // no bytes at all
	r.ContentLength = 16 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var buf bytes.Buffer
	err := h.readBody(r, &buf)
	runtime.ReadMemStats(&after)
	require.NoError(t, err) // an empty body; the size mismatch is the server's to report
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated before the body arrived")
	require.Less(t, buf.Cap(), 1<<20)

	// A body that does arrive is still read whole.
	body := bytes.Repeat([]byte("x"), 1<<20)
	r = httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
	buf.Reset()
	require.NoError(t, h.readBody(r, &buf))
	require.Equal(t, body, buf.Bytes())
}
