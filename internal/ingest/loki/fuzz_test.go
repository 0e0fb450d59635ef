package loki

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grafana/loki/pkg/push"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
)

// checkDecoded asserts what every accepted request guarantees to the converter.
func checkDecoded(t *testing.T, streams []stream) {
	for _, s := range streams {
		require.NoError(t, checkLabels(s.labels, labellimit.Default()))
		for _, e := range s.entries {
			require.False(t, e.ts.Before(time.Unix(0, 0)))
			require.True(t, utf8.ValidString(e.line), "the store refuses invalid UTF-8")
			for _, m := range e.metadata {
				require.True(t, utf8.ValidString(m.name) && utf8.ValidString(m.value))
			}
		}
	}
	ld := toLogs(streams, time.Unix(1, 0))
	n := 0
	for _, s := range streams {
		n += len(s.entries)
	}
	require.Equal(t, n, ld.LogRecordCount(), "every entry becomes one record")
}

func FuzzDecodeProtobuf(f *testing.F) {
	for _, req := range []push.PushRequest{
		{Streams: []push.Stream{{Labels: `{job="a"}`, Entries: []push.Entry{{Timestamp: time.Unix(1, 2), Line: "x",
			StructuredMetadata: push.LabelsAdapter{{Name: "trace_id", Value: "0af7651916cd43dd8448eb211c80319c"}}}}}}},
		{Streams: []push.Stream{{Labels: `{a="1", b="2", level="warn"}`}, {Labels: `{}`}}},
		{Streams: []push.Stream{{Labels: `{"a.b"="x"}`, Entries: []push.Entry{{Timestamp: time.Unix(-5, 0)}}}}},
	} {
		raw, err := req.Marshal()
		require.NoError(f, err)
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Fuzz the protobuf under the snappy framing, where the interesting structure is.
		streams, err := decodeProtobuf(snappyEncode(raw), 1<<20, labellimit.Default())
		if err != nil {
			return
		}
		checkDecoded(t, streams)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"streams":[{"stream":{"job":"a"},"values":[["1700000000000000000","x"],["1","y",{"k":"v"}]]}]}`,
		`{"streams":[{"stream":{},"values":[]}]}`,
		`{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}`,
		`{"streams":null}`, `[]`, `{"streams":[{"values":[["1","x",null]]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		streams, err := decodeJSON(body, labellimit.Default())
		if err != nil {
			var de *decodeError
			require.ErrorAs(t, err, &de, "decode errors are client errors")
			return
		}
		checkDecoded(t, streams)
	})
}

// FuzzPushHandler sends arbitrary bodies to the handler in both formats: it must answer
// 204, 400 or 413, never crash, and hand the pipeline only what it answered 204 for.
func FuzzPushHandler(f *testing.F) {
	f.Add([]byte(`{"streams":[{"stream":{"job":"a"},"values":[["1","x"]]}]}`), true)
	f.Add(snappyEncode([]byte("\x0a\x0b\x0a\x09{job=\"a\"}")), false)
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		c := newRecorder()
		h, _ := newTestHandler(t, c)
		ct := "application/x-protobuf"
		if isJSON {
			ct = "application/json"
		}
		code, _, _ := post(t, h, body, "Content-Type", ct)
		require.Contains(t, []int{http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge}, code)
		if code != http.StatusNoContent {
			require.Zero(t, c.n)
		}
	})
}

// FuzzFastJSONEntry checks that the fast path of JSON values decodes exactly what the
// generic path decodes, whenever it accepts a value.
func FuzzFastJSONEntry(f *testing.F) {
	for _, s := range []string{
		`["1700000000000000000","line"]`, `["1","x",{"k":"v","a":"b"}]`, `[ 17 , "a\"b\u00e9" ]`,
		`["1","x",{},5]`, `["1","x",{"k":1}]`, `["-1","x"]`, `["1e3","x"]`, `["1","\ud800"]`, "[\"1\",\"\xff\"]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // the body decoder rejects it before values are looked at
		}
		fast, ok := fastJSONEntry(raw)
		if !ok {
			return
		}
		var v []json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &v), "fast path accepted what is not an array")
		slow, err := decodeJSONValue(v)
		require.NoError(t, err, "fast path accepted what the generic path refuses: %s", raw)
		require.Equal(t, slow, fast)
	})
}
