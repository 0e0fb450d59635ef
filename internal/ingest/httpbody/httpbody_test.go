package httpbody

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func zlibbed(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func deflated(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, 5)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// request builds a POST of body; chunked hides its length, as a client sending
// Transfer-Encoding: chunked does.
func request(body []byte, enc string, chunked bool) *http.Request {
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd)
	}
	r := httptest.NewRequest(http.MethodPost, "/", rd)
	if enc != "" {
		r.Header.Set("Content-Encoding", enc)
	}
	return r
}

func read(r *http.Request, o Options) ([]byte, error) {
	var buf bytes.Buffer
	err := Read(r, &buf, o)
	return buf.Bytes(), err
}

func TestReadEncodings(t *testing.T) {
	body := []byte(`{"message":"compressed"}`)
	f := func(enc string, sent []byte) {
		t.Helper()
		got, err := read(request(sent, enc, false), Options{Limit: 1000})
		require.NoError(t, err, enc)
		require.Equal(t, body, got, enc)
	}
	f("", body)
	f("identity", body)
	f(" Identity ", body)
	f("gzip", gzipped(body))
	f("x-gzip", gzipped(body))
	f("GZIP", gzipped(body))
	f("deflate", zlibbed(body)) // RFC 9110
	f("deflate", deflated(body))
}

func TestReadBadInput(t *testing.T) {
	o := Options{Limit: 1000}
	_, err := read(request([]byte("x"), "br", false), o)
	var ue *UnsupportedError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, "br", ue.Encoding)
	require.EqualError(t, err, `unsupported Content-Encoding "br"`)

	f := func(enc string, sent []byte, wantMsg string) {
		t.Helper()
		_, err := read(request(sent, enc, false), o)
		var ce *CorruptError
		require.ErrorAs(t, err, &ce, enc)
		require.Equal(t, enc, ce.Encoding)
		require.ErrorContains(t, err, wantMsg)
	}
	f("gzip", []byte("this is not gzip"), "decompress gzip body: gzip: invalid header")
	f("gzip", nil, "decompress gzip body: EOF")
	f("gzip", gzipped([]byte("x"))[:10], "decompress gzip body: unexpected EOF")
	f("deflate", []byte{0x78, 0x9c, 0xff, 0xff}, "decompress deflate body")
	f("deflate", []byte("\xff\xff\xff"), "decompress deflate body")
	f("deflate", nil, "decompress deflate body")

	r := httptest.NewRequest(http.MethodPost, "/", iotestErrReader{})
	_, err = read(r, o)
	require.EqualError(t, err, "read body: connection reset")
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestReadTooLarge(t *testing.T) {
	o := Options{Limit: 1000}
	f := func(name string, r *http.Request) {
		t.Helper()
		_, err := read(r, o)
		require.ErrorIs(t, err, ErrTooLarge, name)
	}
	big := bytes.Repeat([]byte("x"), 1001)
	f("declared length", request(big, "", false))
	f("chunked", request(big, "", true))
	// Bombs: a few bytes that expand past the limit.
	zeros := make([]byte, 17<<20)
	f("gzip bomb", request(gzipped(zeros), "gzip", true))
	f("zlib bomb", request(zlibbed(zeros), "deflate", true))
	f("deflate bomb", request(deflated(zeros), "deflate", true))
	// A compressed body over the limit as sent is too large, not corrupt, even when its
	// length is not declared and the reader sees it cut at the limit.
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4000)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	gz := gzipped(random)
	require.Greater(t, len(gz), 1000)
	f("compressed chunked", request(gz, "gzip", true))

	// Exactly at the limit is fine, as sent and decompressed.
	got, err := read(request(big[:1000], "", true), o)
	require.NoError(t, err)
	require.Len(t, got, 1000)
	got, err = read(request(gzipped(big[:1000]), "gzip", true), o)
	require.NoError(t, err)
	require.Len(t, got, 1000)
}

func TestReadDecoders(t *testing.T) {
	o := Options{Limit: 1000, Decoders: map[string]Decoder{
		"snappy": nil, // taken as it is
		"zlib":   zlib.NewReader,
	}}
	got, err := read(request([]byte("as is"), "snappy", false), o)
	require.NoError(t, err)
	require.Equal(t, "as is", string(got))
	got, err = read(request(zlibbed([]byte("z")), "zlib", false), o)
	require.NoError(t, err)
	require.Equal(t, "z", string(got))
	got, err = read(request(gzipped([]byte("g")), "gzip", false), o)
	require.NoError(t, err, "the built-in encodings stay")
	require.Equal(t, "g", string(got))
	_, err = read(request(bytes.Repeat([]byte("x"), 1001), "snappy", true), o)
	require.ErrorIs(t, err, ErrTooLarge, "the limit applies to bodies taken as they are")
}

// A request that declares a large Content-Length but has sent no body yet must not make
// Read allocate that length: before, the OTLP receiver grew its buffer to the declared
// 16 MiB at once (issue 18).
func TestReadDoesNotAllocateDeclaredLength(t *testing.T) {
	o := Options{Limit: 16 << 20}
	r := httptest.NewRequest(http.MethodPost, "/v1/traces", io.MultiReader()) // no bytes at all
	r.ContentLength = 16 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var buf bytes.Buffer
	err := Read(r, &buf, o)
	runtime.ReadMemStats(&after)
	require.NoError(t, err) // an empty body; the size mismatch is the server's to report
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated before the body arrived")
	require.Less(t, buf.Cap(), 1<<20)

	// A body that does arrive is still read whole.
	body := bytes.Repeat([]byte("x"), 1<<20)
	r = httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
	buf.Reset()
	require.NoError(t, Read(r, &buf, o))
	require.Equal(t, body, buf.Bytes())
}
