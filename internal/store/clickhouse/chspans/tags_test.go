//go:build chdb

package chspans

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// TestAwkwardText writes and filters on keys and values holding quotes, backslashes,
// control bytes and non-ASCII text: every one is a literal in the SQL, so this is the
// test of their quoting.
func TestAwkwardText(t *testing.T) {
	s := newStore(t, chsqltest.Open(t))
	ctx := context.Background()
	awkward := []string{`it's`, `back\slash`, "tab\tnew\nline\x00nul", `'; DROP TABLE spans; --`, "snow ☃", `\'`, ""}
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", `svc 'q' \`)
	ss := rs.ScopeSpans().AppendEmpty()
	for i, v := range awkward {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{7, byte(i + 1)})
		sp.SetSpanID(pcommon.SpanID{7, byte(i + 1)})
		sp.SetName(v)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 2, 2, 0, 0, i, 0, time.UTC)))
		sp.SetEndTimestamp(sp.StartTimestamp())
		sp.Attributes().PutStr(v+"key", v)
	}
	require.NoError(t, s.WriteTraces(ctx, td))

	names, err := s.SpanNames(ctx, `svc 'q' \`)
	require.NoError(t, err)
	require.ElementsMatch(t, awkward, names)
	for i, v := range awkward {
		for _, op := range []store.MatchOp{store.MatchEqual, store.MatchRegexp} {
			if v == "" {
				break // an empty name does not filter, and a missing key compares as ""
			}
			val := v
			if op == store.MatchRegexp {
				val = regexpQuote(v)
			}
			q := store.TraceQuery{SpanName: v, Attrs: []store.AttrFilter{{Key: v + "key", Op: op, Value: val}}}
			var got []pcommon.TraceID
			for sum, err := range s.FindTraces(ctx, q) {
				require.NoError(t, err)
				got = append(got, sum.TraceID)
			}
			require.Equal(t, []pcommon.TraceID{{7, byte(i + 1)}}, got, "%q op %d", v, op)
		}
		td, err := s.GetTrace(ctx, pcommon.TraceID{7, byte(i + 1)})
		require.NoError(t, err)
		sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		require.Equal(t, v, sp.Name())
		got, ok := sp.Attributes().Get(v + "key")
		require.True(t, ok)
		require.Equal(t, v, got.Str())
	}
	services, err := s.Services(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{`svc 'q' \`}, services)
}

func regexpQuote(s string) string {
	out := ""
	for _, r := range s {
		switch r {
		case '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$':
			out += `\` + string(r)
		default:
			out += string(r)
		}
	}
	return out
}

// TestDiskBytesAndOtherSignals: the store reports its bytes, and retention of other
// signals leaves spans alone.
func TestDiskBytesAndOtherSignals(t *testing.T) {
	s := newStore(t, chsqltest.Open(t))
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	td, ids := genTraces(5, 100, 4, start, time.Second)
	require.NoError(t, s.WriteTraces(ctx, td))
	sizes, err := s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Greater(t, sizes[store.SignalSpans], int64(1000))

	require.NoError(t, s.DropBefore(ctx, store.SignalLogs, start.Add(100*24*time.Hour)))
	_, err = s.GetTrace(ctx, ids[0])
	require.NoError(t, err, "dropping logs kept spans")
	require.NoError(t, s.DropBefore(ctx, store.SignalSpans, start.Add(100*24*time.Hour)))
	_, err = s.GetTrace(ctx, ids[0])
	require.ErrorIs(t, err, store.ErrNotFound)
}
