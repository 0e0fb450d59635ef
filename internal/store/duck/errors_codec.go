package duck

import (
	"bytes"
	"encoding/json"
	"fmt"

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

// encodeEventBody returns the event column of ev.
func encodeEventBody(ev *errtrack.Event) ([]byte, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
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
