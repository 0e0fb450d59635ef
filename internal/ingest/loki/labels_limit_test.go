package loki

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/grafana/loki/pkg/push"
	"github.com/stretchr/testify/require"
)

// A stream with more labels than the limit is refused with 400 naming the limit, before
// its labels are sorted or handed on. Before, nothing checked the count here (the
// pipeline refused the record afterwards) and an insertion sort made 100k labels cost
// 37 CPU-seconds first.
func TestPushLabelLimits(t *testing.T) {
	h, _ := newTestHandler(t, newRecorder())
	const n = 20_000
	stream := make(map[string]string, n)
	var sel strings.Builder
	sel.WriteString("{")
	for i := range n {
		name := fmt.Sprintf("l%05d", n-i)
		stream[name] = "v"
		fmt.Fprintf(&sel, `%s="v=1",`, name)
	}
	sel.WriteString(`job="x"}`)
	js, err := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": stream, "values": [][]string{{"1700000000000000000", "line"}}}}})
	require.NoError(t, err)

	code, _, msg := post(t, h, js, "Content-Type", "application/json")
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, "20000 labels, more than the limit of 128 (limits.max_attributes_per_item)")

	pb := protoBody(t, push.Stream{Labels: sel.String(), Entries: []push.Entry{{Line: "line"}}})
	code, _, msg = post(t, h, pb, "Content-Type", "application/x-protobuf")
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, "20001 labels, more than the limit of 128")

	long := map[string]string{"job": strings.Repeat("x", 17<<10)}
	js, err = json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": long, "values": [][]string{{"1700000000000000000", "line"}}}}})
	require.NoError(t, err)
	code, _, msg = post(t, h, js, "Content-Type", "application/json")
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, `value of label "job" is 17408 bytes, more than the limit of 16384`)
}

func TestCountLabels(t *testing.T) {
	f := func(s string, want int) {
		t.Helper()
		require.Equal(t, want, countLabels(s), s)
	}
	f(`{}`, 0)
	f(`{a="b"}`, 1)
	f(`{a="b=c", d="e\"=f"}`, 2)
	f(`{a="\\", b="x"}`, 2)
}

func TestSortLabelsStable(t *testing.T) {
	ls := []label{{"b", "1"}, {"a", "1"}, {"b", "2"}, {"a", "2"}}
	sortLabels(ls)
	require.Equal(t, []label{{"a", "1"}, {"a", "2"}, {"b", "1"}, {"b", "2"}}, ls)
}
