package otlp

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

// nestedArrayLogs returns an OTLP logs request (protobuf) whose one attribute value is an
// array nested depth levels deep. Built inside out without copying, so that a depth in
// the millions stays cheap.
func nestedArrayLogs(depth int) []byte {
	wrap := func(tag byte, inner []byte) []byte {
		out := binary.AppendUvarint([]byte{tag}, uint64(len(inner)))
		return append(out, inner...)
	}
	vlen := func(x int) int { return len(binary.AppendUvarint(nil, uint64(x))) }
	arrLens, anyLens := make([]int, depth), make([]int, depth)
	inner := 0
	for i := range depth {
		arrLens[i] = 1 + vlen(inner) + inner // ArrayValue{values: [AnyValue]}
		anyLens[i] = 1 + vlen(arrLens[i]) + arrLens[i]
		inner = anyLens[i]
	}
	v := make([]byte, 0, inner)
	for i := depth - 1; i >= 0; i-- {
		v = binary.AppendUvarint(append(v, 0x2a), uint64(arrLens[i])) // AnyValue.array_value
		in := 0
		if i > 0 {
			in = anyLens[i-1]
		}
		v = binary.AppendUvarint(append(v, 0x0a), uint64(in)) // ArrayValue.values
	}
	kv := append(wrap(0x0a, []byte("k")), wrap(0x12, v)...)   // KeyValue{key, value}
	return wrap(0x0a, wrap(0x12, wrap(0x12, wrap(0x32, kv)))) // request > resource_logs > scope_logs > log_records > attributes
}

func TestDeepNestingIsRefusedNotFatal(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	addr := env.recv.HTTPAddr()

	// 1.5 million levels in 14 MiB: without the depth check pdata's recursive decoder
	// overflows the stack and the process dies.
	body := nestedArrayLogs(1_500_000)
	require.Less(t, len(body), 16<<20)
	r := post(t, addr, "/v1/logs", "application/x-protobuf", "", bytes.NewReader(body))
	requireError(t, r, 400, "decode protobuf: messages nested deeper than 256 levels")

	err := invokeRawPath(t, dial(t, env.recv.GRPCAddr()), "/opentelemetry.proto.collector.logs.v1.LogsService/Export", body)
	require.ErrorContains(t, err, "nested deeper than 256 levels")

	var js strings.Builder
	js.WriteString(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":`)
	js.WriteString(strings.Repeat(`{"kvlistValue":{"values":[{"key":"k","value":`, 300_000))
	js.WriteString(`{}`)
	js.WriteString(strings.Repeat(`}]}}`, 300_000))
	js.WriteString(`}]}]}]}`)
	r = post(t, addr, "/v1/logs", "application/json", "", strings.NewReader(js.String()))
	requireError(t, r, 400, "decode json: objects and arrays nested deeper than 256 levels")

	// Moderate nesting decodes; the pipeline rejects the item by its own depth limit.
	r = post(t, addr, "/v1/logs", "application/x-protobuf", "", bytes.NewReader(nestedArrayLogs(40)))
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, 0, env.store.snapshotLogs().LogRecordCount())
}

func TestProtoTooDeep(t *testing.T) {
	require.False(t, protoTooDeep(nil, 3))
	require.False(t, protoTooDeep(nestedArrayLogs(10), 100))
	require.True(t, protoTooDeep(nestedArrayLogs(60), 100))
	// A string field whose bytes are not a message is a leaf.
	require.False(t, protoTooDeep([]byte{0x0a, 0x03, 'a', 'b', 'c'}, 1))
	valid := protoBody(t, traceRequest(5))
	require.False(t, protoTooDeep(valid, 16))
	require.False(t, protoTooDeep(valid[:len(valid)-3], 16), "malformed is left to the decoder")
}

// protoTooDeepFull is protoTooDeep without the shortcut for fields too short to reach the
// limit: it walks every field. The two must agree on every input.
func protoTooDeepFull(b []byte, maxDepth int) bool {
	var parents []int
	pos, end := 0, len(b)
	for {
		if pos >= end {
			if len(parents) == 0 {
				return false
			}
			end = parents[len(parents)-1]
			parents = parents[:len(parents)-1]
			continue
		}
		next, child, ok := scanField(b[:end], pos)
		if !ok {
			if len(parents) == 0 {
				return false
			}
			pos = end
			continue
		}
		pos = next
		if child > 0 {
			if len(parents)+1 > maxDepth {
				return true
			}
			parents = append(parents, end)
			end = pos + child
		}
	}
}

func TestProtoTooDeepAgreesWithFullScan(t *testing.T) {
	bodies := [][]byte{nil, nestedArrayLogs(10), nestedArrayLogs(60), protoBody(t, traceRequest(5))}
	for _, body := range bodies {
		for depth := 1; depth <= 70; depth++ {
			require.Equal(t, protoTooDeepFull(body, depth), protoTooDeep(body, depth), "depth %d", depth)
		}
	}
}

func FuzzProtoTooDeep(f *testing.F) {
	f.Add(nestedArrayLogs(10), uint8(5))
	f.Add([]byte{0x0a, 0x03, 'a', 'b', 'c'}, uint8(1))
	f.Add([]byte{0x0a, 0x04, 0x0a, 0x02, 0x0a, 0x00}, uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, depth uint8) {
		d := int(depth%64) + 1
		if protoTooDeepFull(body, d) != protoTooDeep(body, d) {
			t.Fatalf("depth %d: full scan says %v", d, protoTooDeepFull(body, d))
		}
	})
}

func BenchmarkProtoTooDeepFullScan(b *testing.B) {
	body := benchLogs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		protoTooDeepFull(body, maxNesting)
	}
}
