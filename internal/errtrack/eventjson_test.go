package errtrack_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/errtracktest"
)

// sameAsMarshal checks that AppendJSON writes json.Marshal's bytes, or fails as it does.
func sameAsMarshal(t *testing.T, ev errtrack.Event) {
	t.Helper()
	want, wantErr := json.Marshal(ev)
	got, err := errtrack.AppendJSON([]byte("prefix"), &ev)
	if wantErr != nil {
		require.Error(t, err, "json.Marshal fails with %v", wantErr)
		require.Equal(t, "prefix", string(got), "nothing appended on error")
		return
	}
	require.NoError(t, err)
	require.Equal(t, "prefix"+string(want), string(got))
}

func TestAppendJSONSameAsMarshal(t *testing.T) {
	at := time.Date(2026, 12, 7, 6, 0, 0, 123456789, time.UTC)
	sameAsMarshal(t, errtrack.Event{})
	sameAsMarshal(t, errtracktest.PythonEvent(7, 3, at))
	sameAsMarshal(t, errtracktest.Event(3, "handler", at))

	handled := false
	tricky := "quote\" back\\ <a href='x'>&amp; \x00\x01\x1f\b\f\n\r\t \u2028\u2029 é 日本 \xff\xfe bad \xed\xa0\x80 end"
	ev := errtracktest.PythonEvent(1, 1, at.In(time.FixedZone("x", -7*3600-1800)))
	ev.Message = tricky
	ev.Fingerprint = []string{"{{ default }}", tricky}
	ev.Tags = map[string]string{tricky: tricky, "b": "", "a": "1"}
	ev.User = &errtrack.User{Email: tricky}
	ev.Request = &errtrack.Request{Method: "POST", Headers: map[string]string{}, Data: "raw body"}
	ev.Exceptions[0].Handled = &handled
	ev.Exceptions[0].Frames[0].Colno = -3
	ev.Exceptions[0].RawStacktrace = tricky
	ev.Breadcrumbs = append(ev.Breadcrumbs, errtrack.Breadcrumb{Data: map[string]any{}})
	ev.Contexts = map[string]any{
		"floats": []any{0.0, math.Copysign(0, -1), 1.0, -2.5, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 123456789012345678901234.0,
			math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 1.0 / 3},
		"nested": map[string]any{"z": nil, "a": []any{}, "m": map[string]any{}, "nilmap": map[string]any(nil),
			"nilslice": []any(nil), "b": []any{true, false, nil, "s", map[string]any{tricky: tricky}}},
		// Not what a JSON decoder makes, as an OpenTelemetry attribute may be.
		"other": []any{int64(42), []string{"x"}, map[string]string{"k": "<v>"}, int(-1), uint8(3), float32(0.1),
			struct{ A int }{A: 1}, json.RawMessage(`{"raw":1}`)},
	}
	ev.Extra = map[string]any{"": "empty key", tricky: 1.0}
	sameAsMarshal(t, ev)

	ev.Request.Data = map[string]any{"form": []any{"a", 2.0}}
	ev.Request.Cookies = map[string]string{"session": "[Filtered]"}
	sameAsMarshal(t, ev)

	// What json.Marshal refuses, AppendJSON refuses.
	for _, bad := range []func(ev *errtrack.Event){
		func(ev *errtrack.Event) { ev.Extra = map[string]any{"x": math.NaN()} },
		func(ev *errtrack.Event) { ev.Contexts = map[string]any{"x": []any{math.Inf(-1)}} },
		func(ev *errtrack.Event) { ev.Extra = map[string]any{"ch": make(chan int)} },
		func(ev *errtrack.Event) { ev.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		func(ev *errtrack.Event) {
			ev.Received = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 25*3600))
		},
		func(ev *errtrack.Event) { ev.Breadcrumbs[0].Timestamp = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		ev := errtracktest.PythonEvent(2, 2, at)
		bad(&ev)
		sameAsMarshal(t, ev)
	}
}

// FuzzAppendJSON decodes the input as an Event, as a store reads one back, and checks
// that AppendJSON writes what json.Marshal does.
func FuzzAppendJSON(f *testing.F) {
	seed, err := json.Marshal(errtracktest.PythonEvent(1, 1, time.Now()))
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte(`{"message":"\u2028<&>\ud800","extra":{"n":[1e-7,1e21,-0,0.1],"m":{"b":null,"a":{}}},"tags":{"\u0000":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev errtrack.Event
		if json.Unmarshal(b, &ev) != nil {
			return
		}
		sameAsMarshal(t, ev)
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	ev := errtracktest.PythonEvent(1, 1, time.Now())
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = errtrack.AppendJSON(buf[:0], &ev)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(&ev)
		}
	})
}

// BenchmarkEventFloor measures what any ingest of a Sentry event of this size pays before
// it decodes anything: gunzipping the request body and one pass over its JSON
// (json.Valid, which builds nothing). With cpu-ns/op (the process's CPU time, so that a
// loaded machine does not inflate it) it bounds the events per CPU-second that the server
// can reach: docs/performance.md, Error events.
func BenchmarkEventFloor(b *testing.B) {
	ev := errtracktest.PythonEvent(1, 1, time.Now())
	raw, err := errtrack.AppendJSON(nil, &ev)
	require.NoError(b, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	require.NoError(b, zw.Close())
	b.Logf("event %d B, gzipped %d B", len(raw), gz.Len())
	b.Run("gunzip", func(b *testing.B) {
		var out bytes.Buffer
		zr, err := gzip.NewReader(bytes.NewReader(gz.Bytes()))
		require.NoError(b, err)
		cpuLoop(b, func() {
			_ = zr.Reset(bytes.NewReader(gz.Bytes()))
			out.Reset()
			_, _ = io.Copy(&out, zr)
		})
	})
	b.Run("json.Valid", func(b *testing.B) {
		cpuLoop(b, func() { json.Valid(raw) })
	})
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		cpuLoop(b, func() { buf, _ = errtrack.AppendJSON(buf[:0], &ev) })
	})
}

// cpuLoop runs f b.N times and reports the process's CPU time per call.
func cpuLoop(b *testing.B, f func()) {
	c0, n := cpuTime(), 0
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(n), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
