// Package pprofconv turns pprof files and folded stack text into store.Profiles: one
// profile per sample type and series, with Pyroscope's profile type IDs, under limits that
// keep a hostile file from taking the server's memory.
package pprofconv

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/google/pprof/profile"
	"google.golang.org/protobuf/encoding/protowire"
)

// Limits bound what one profile may hold. Each is checked before the structure it bounds
// is built, so a file over a limit costs little more than its bytes. Zero disables a limit.
type Limits struct {
	// DecompressedBytes is the largest profile after gunzip (a gzip bomb stops here).
	DecompressedBytes int64
	// Samples, Locations, Functions, Strings and Mappings bound the counts of the pprof
	// tables; Series bounds the distinct label sets the samples' labels make.
	Samples   int
	Locations int
	Functions int
	Strings   int
	Mappings  int
	Series    int
	// StackDepth is the most locations one sample may have (Go's runtime records 128 at
	// most); Frames the most locations in all samples together.
	StackDepth int
	Frames     int
}

// DefaultLimits are generous for real profiles: a 10 s CPU profile of a busy Go server
// has a few thousand samples and locations, a heap profile some tens of thousands.
func DefaultLimits() Limits {
	return Limits{
		DecompressedBytes: 64 << 20,
		Samples:           200_000,
		Locations:         500_000,
		Functions:         200_000,
		Strings:           500_000,
		Mappings:          10_000,
		Series:            1_000,
		StackDepth:        1_024,
		Frames:            8_000_000,
	}
}

// LimitError is input over one of the Limits. Limit names the field of Limits.
type LimitError struct {
	Limit string // "DecompressedBytes", "Samples", ...
	Max   int64
	What  string // what was counted, for the message
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("profile has more than %d %s (limit %s)", e.Max, e.What, e.Limit)
}

// ErrEmpty is a profile without any bytes.
var ErrEmpty = errors.New("empty profile")

var gzipMagic = []byte{0x1f, 0x8b}

// IsGzip reports whether data starts like a gzip stream.
func IsGzip(data []byte) bool { return bytes.HasPrefix(data, gzipMagic) }

// Decompress returns data gunzipped when it is gzip, or data itself, refusing output over
// lim.DecompressedBytes.
func Decompress(data []byte, lim Limits) ([]byte, error) {
	if !IsGzip(data) {
		if lim.DecompressedBytes > 0 && int64(len(data)) > lim.DecompressedBytes {
			return nil, &LimitError{Limit: "DecompressedBytes", Max: lim.DecompressedBytes, What: "bytes"}
		}
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("gunzip profile: %w", err)
	}
	defer zr.Close()
	var r io.Reader = zr
	if lim.DecompressedBytes > 0 {
		r = io.LimitReader(zr, lim.DecompressedBytes+1)
	}
	var buf bytes.Buffer
	buf.Grow(min(4*len(data), 1<<20))
	n, err := buf.ReadFrom(r)
	switch {
	case lim.DecompressedBytes > 0 && n > lim.DecompressedBytes:
		return nil, &LimitError{Limit: "DecompressedBytes", Max: lim.DecompressedBytes, What: "bytes after decompression"}
	case err != nil:
		return nil, fmt.Errorf("gunzip profile: %w", err)
	}
	return buf.Bytes(), nil
}

// Parse decodes a pprof profile, gzipped or not, after checking lim on its raw protobuf.
func Parse(data []byte, lim Limits) (p *profile.Profile, err error) {
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	raw, err := Decompress(data, lim)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, ErrEmpty
	}
	if err := checkCounts(raw, lim); err != nil {
		return nil, err
	}
	// The pprof decoder is not written for hostile input; a panic there is a bad file.
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("parse pprof: malformed profile (%v)", r)
		}
	}()
	p, err = profile.ParseUncompressed(raw)
	if err != nil {
		return nil, fmt.Errorf("parse pprof: %w", err)
	}
	return p, nil
}

// Field numbers of perftools.profiles.Profile and Sample (profile.proto).
const (
	fieldSampleType = 1
	fieldSample     = 2
	fieldMapping    = 3
	fieldLocation   = 4
	fieldFunction   = 5
	fieldString     = 6

	fieldSampleLocation = 1
)

// checkCounts walks the top level of the protobuf, counting the table entries and the
// locations of each sample, without building anything.
func checkCounts(b []byte, lim Limits) error {
	var samples, mappings, locations, functions, stringsN, frames int64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("parse pprof: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return fmt.Errorf("parse pprof: %w", protowire.ParseError(m))
			}
			switch num {
			case fieldSample:
				samples++
				depth, err := sampleDepth(v)
				if err != nil {
					return err
				}
				if lim.StackDepth > 0 && depth > int64(lim.StackDepth) {
					return &LimitError{Limit: "StackDepth", Max: int64(lim.StackDepth), What: "locations in one sample's stack"}
				}
				frames += depth
			case fieldMapping:
				mappings++
			case fieldLocation:
				locations++
			case fieldFunction:
				functions++
			case fieldString:
				stringsN++
			}
			b = b[m:]
		} else {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return fmt.Errorf("parse pprof: %w", protowire.ParseError(m))
			}
			b = b[m:]
		}
		for _, c := range []struct {
			name  string
			what  string
			n     int64
			limit int
		}{
			{"Samples", "samples", samples, lim.Samples},
			{"Mappings", "mappings", mappings, lim.Mappings},
			{"Locations", "locations", locations, lim.Locations},
			{"Functions", "functions", functions, lim.Functions},
			{"Strings", "strings in the string table", stringsN, lim.Strings},
			{"Frames", "locations in all samples", frames, lim.Frames},
		} {
			if c.limit > 0 && c.n > int64(c.limit) {
				return &LimitError{Limit: c.name, Max: int64(c.limit), What: c.what}
			}
		}
	}
	return nil
}

// sampleDepth counts the location IDs of one Sample message, packed or not.
func sampleDepth(b []byte) (int64, error) {
	var depth int64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("parse pprof sample: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == fieldSampleLocation && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return 0, fmt.Errorf("parse pprof sample: %w", protowire.ParseError(m))
			}
			for _, c := range v { // one varint ends at each byte below 0x80
				if c < 0x80 {
					depth++
				}
			}
			b = b[m:]
			continue
		}
		if num == fieldSampleLocation && typ == protowire.VarintType {
			depth++
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, fmt.Errorf("parse pprof sample: %w", protowire.ParseError(m))
		}
		b = b[m:]
	}
	return depth, nil
}
