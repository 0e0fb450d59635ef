package httpbody

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"testing"
)

// FuzzRead sends arbitrary bytes under each encoding: Read must return the body within the
// limit or one of its errors, never panic, and give back what a client compressed.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"a":1}`), uint8(0))
	f.Add(gzipped([]byte(`{"a":1}`)), uint8(1))
	f.Add(zlibbed([]byte(`{"a":1}`)), uint8(2))
	f.Add(deflated([]byte(`{"a":1}`)), uint8(2))
	f.Add([]byte{0x78, 0x9c}, uint8(2))
	const limit = 4 << 10
	o := Options{Limit: limit}
	encs := []string{"", "gzip", "deflate", "br"}

	// The compressors are reused: a new one allocates its large tables every time, which
	// made the fuzzer crawl.
	gw, zw := gzip.NewWriter(nil), zlib.NewWriter(nil)
	fw, _ := flate.NewWriter(nil, flate.DefaultCompression)
	compressors := []struct {
		name, enc string
		w         interface {
			io.WriteCloser
			Reset(io.Writer)
		}
	}{{"gzip", "gzip", gw}, {"zlib", "deflate", zw}, {"raw deflate", "deflate", fw}}

	f.Fuzz(func(t *testing.T, body []byte, e uint8) {
		enc := encs[int(e)%len(encs)]
		got, err := read(request(body, enc, e >= 128), o)
		var ue *UnsupportedError
		var ce *CorruptError
		switch {
		case err == nil:
			if len(got) > limit {
				t.Fatalf("%s: %d bytes read, limit %d", enc, len(got), limit)
			}
		case errors.Is(err, ErrTooLarge), errors.As(err, &ue), errors.As(err, &ce):
		default:
			t.Fatalf("%s: unexpected error %v", enc, err)
		}
		if enc == "br" && len(body) <= limit && ue == nil {
			t.Fatalf("br: want UnsupportedError, got %v", err)
		}

		for _, c := range compressors {
			var sent bytes.Buffer
			c.w.Reset(&sent)
			_, _ = c.w.Write(body)
			_ = c.w.Close()
			got, err := read(request(sent.Bytes(), c.enc, true), o)
			if len(body) > limit || sent.Len() > limit {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("%s of %d bytes (%d sent): want ErrTooLarge, got %v", c.name, len(body), sent.Len(), err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("%s round trip: err %v, got %d bytes, want %d", c.name, err, len(got), len(body))
			}
		}
	})
}
