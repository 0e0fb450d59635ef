// Package httpbody reads the body of an ingest request, undoing its Content-Encoding and
// bounding its size before and after decompression, so that a small compressed body cannot
// expand to gigabytes in memory.
package httpbody

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ErrTooLarge is returned when the body, as sent or decompressed, is over the limit.
var ErrTooLarge = errors.New("request body too large")

// UnsupportedError is returned for a Content-Encoding the reader has no decoder for.
type UnsupportedError struct {
	Encoding string // lower-cased and trimmed, as sent otherwise: callers clip it
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("unsupported Content-Encoding %q", e.Encoding)
}

// CorruptError is returned when the body does not decompress as its Content-Encoding says.
type CorruptError struct {
	Encoding string
	Err      error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("decompress %s body: %v", e.Encoding, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Decoder returns a reader of the decompressed bytes of r.
type Decoder func(r io.Reader) (io.ReadCloser, error)

// Options say how much to read and which encodings to accept.
type Options struct {
	// Limit is the most bytes accepted, both as sent and after decompression. Must be > 0.
	Limit int64
	// Decoders adds Content-Encodings (lower case) to the built-in ones ("" and identity,
	// gzip and x-gzip, deflate), or overrides one. A nil Decoder takes the body as it is
	// (Loki's snappy protobuf bodies, which the caller decompresses itself).
	Decoders map[string]Decoder
}

// maxPreGrow is the most Read allocates for a body before its bytes arrive.
const maxPreGrow = 64 << 10

// Read appends the decoded body of r to buf. It returns ErrTooLarge, an
// *UnsupportedError, a *CorruptError, or another error from reading the body, wrapped with
// "read body". Read does not close r.Body (the HTTP server does).
func Read(r *http.Request, buf *bytes.Buffer, o Options) error {
	if r.ContentLength > o.Limit {
		return ErrTooLarge
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	newDecoder, ok := o.Decoders[enc]
	if !ok {
		switch enc {
		case "", "identity":
		case "gzip", "x-gzip":
			newDecoder = newGzip
		case "deflate":
			newDecoder = newDeflate
		default:
			return &UnsupportedError{Encoding: enc}
		}
	}
	raw := &io.LimitedReader{R: r.Body, N: o.Limit + 1}
	// raw.N == 0 means more than Limit bytes were sent: a compressed stream cut there would
	// otherwise look corrupt.
	sentTooMuch := func() bool { return raw.N == 0 }
	if newDecoder == nil {
		// Grow ahead for small bodies only: Content-Length is what the client says, not
		// what it sends, and growing to it before the bytes arrive lets connections that
		// send only headers hold Limit bytes each (issue 18).
		if r.ContentLength > 0 {
			buf.Grow(int(min(r.ContentLength, maxPreGrow)) + bytes.MinRead)
		}
		n, err := buf.ReadFrom(raw)
		switch {
		case n > o.Limit:
			return ErrTooLarge
		case err != nil:
			return fmt.Errorf("read body: %w", err)
		}
		return nil
	}
	zr, err := newDecoder(raw)
	if err != nil {
		if sentTooMuch() {
			return ErrTooLarge
		}
		return &CorruptError{Encoding: enc, Err: err}
	}
	defer zr.Close()
	n, err := buf.ReadFrom(io.LimitReader(zr, o.Limit+1))
	switch {
	case n > o.Limit || sentTooMuch():
		return ErrTooLarge
	case err != nil:
		return &CorruptError{Encoding: enc, Err: err}
	}
	return nil
}

func newGzip(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }

// newDeflate reads HTTP's "deflate", which RFC 9110 says is zlib-wrapped, and also the raw
// deflate some clients send: a zlib header is told by its checksum.
func newDeflate(r io.Reader) (io.ReadCloser, error) {
	var head [2]byte
	n, _ := io.ReadFull(r, head[:])
	r = io.MultiReader(bytes.NewReader(head[:n]), r)
	if n == 2 && isZlibHeader(head) {
		return zlib.NewReader(r)
	}
	return flate.NewReader(r), nil
}

// isZlibHeader reports whether h is a zlib header (RFC 1950): method 8 (deflate) and the
// two bytes, read as a big-endian number, a multiple of 31.
func isZlibHeader(h [2]byte) bool {
	return h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0
}
