package sentry

import (
	"os"
	"testing"
	"time"
)

// A Python SDK error event as bench/loadgen generates it (15 frames, 20 breadcrumbs).
func loadgenEvent(b *testing.B) []byte {
	body, err := os.ReadFile("testdata/python-event.json")
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func BenchmarkDecodeEvent(b *testing.B) {
	body := loadgenEvent(b)
	meta := eventMeta{Project: "1", Service: "shop", Received: time.Now()}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeEvent(body, meta); err != nil {
			b.Fatal(err)
		}
	}
}
