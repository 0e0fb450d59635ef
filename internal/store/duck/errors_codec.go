package duck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// The event column of error_events holds the event as JSON compressed with zstd
// (SpeedFastest: a 15 KB Python event becomes ~2 KB in ~20 µs). Rows written before
// compression hold the JSON itself; decodeEventBody tells them apart by zstd's frame
// magic number, which JSON text never starts with.
//
// One encoder and one decoder serve every store: EncodeAll and DecodeAll are safe for
// concurrent use and keep no state between calls.
var (
	eventEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	eventDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxEventBytes))
)

// maxEventBytes bounds a decoded event (the Sentry ingest takes requests of 16 MiB).
const maxEventBytes = 64 << 20

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// jsonBufs are buffers for an event's JSON before compression.
var jsonBufs = sync.Pool{New: func() any { return new([]byte) }}

// encodeEventBody returns the event column of ev. errtrack.AppendJSON writes the bytes
// json.Marshal would, in about a quarter of its CPU (BenchmarkAppendJSON).
func encodeEventBody(ev *errtrack.Event) ([]byte, error) {
	buf := jsonBufs.Get().(*[]byte)
	defer jsonBufs.Put(buf)
	raw, err := errtrack.AppendJSON((*buf)[:0], ev)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if cap(raw) <= 1<<20 { // an outsize event's buffer is not kept
		*buf = raw
	}
	return eventEncoder.EncodeAll(raw, make([]byte, 0, len(raw)/4)), nil
}

// decodeEventBody reads an event column.
func decodeEventBody(body []byte) (errtrack.Event, error) {
	var ev errtrack.Event
	if bytes.HasPrefix(body, zstdMagic) {
		raw, err := eventDecoder.DecodeAll(body, nil)
		if err != nil {
			return ev, fmt.Errorf("decompress: %w", err)
		}
		body = raw
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, fmt.Errorf("decode: %w", err)
	}
	return ev, nil
}

// validStrings replaces invalid UTF-8 in the strings of ev that go into columns and issue
// rows (encoding/json does it for the event column): DuckDB refuses such a string as a
// parameter, and one event it refuses would hold back every event of the log behind it.
// The exceptions are copied before a change: the caller's event stays as it is.
func validStrings(ev *errtrack.Event) {
	for _, p := range []*string{&ev.EventID, &ev.GroupID, &ev.GroupingKey, &ev.Project, &ev.Service,
		&ev.Environment, &ev.Release, &ev.Level, &ev.TraceID, &ev.Message, &ev.Transaction} {
		fixUTF8(p)
	}
	if !slices.ContainsFunc(ev.Exceptions, invalidException) {
		return
	}
	ev.Exceptions = slices.Clone(ev.Exceptions)
	for i := range ev.Exceptions {
		ex := &ev.Exceptions[i]
		fixUTF8(&ex.Type)
		fixUTF8(&ex.Value)
		fixUTF8(&ex.Module)
		ex.Frames = slices.Clone(ex.Frames)
		for j := range ex.Frames {
			f := &ex.Frames[j]
			for _, p := range []*string{&f.Function, &f.Module, &f.Filename, &f.AbsPath} {
				fixUTF8(p)
			}
		}
	}
}

func invalidException(ex errtrack.Exception) bool {
	if !utf8.ValidString(ex.Type) || !utf8.ValidString(ex.Value) || !utf8.ValidString(ex.Module) {
		return true
	}
	return slices.ContainsFunc(ex.Frames, func(f errtrack.Frame) bool {
		return !utf8.ValidString(f.Function) || !utf8.ValidString(f.Module) || !utf8.ValidString(f.Filename) || !utf8.ValidString(f.AbsPath)
	})
}

func fixUTF8(s *string) {
	if !utf8.ValidString(*s) {
		*s = strings.ToValidUTF8(*s, "\uFFFD")
	}
}
