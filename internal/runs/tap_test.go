package runs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/jobs"
)

// tapFakes records the order of calls to the run writer and the next writers.
type tapFakes struct {
	calls     []string
	upserted  []Run
	upsertErr error
	writeErr  error
}

func (f *tapFakes) UpsertRuns(_ context.Context, rs []Run) error {
	f.calls = append(f.calls, "upsert")
	if f.upsertErr != nil {
		return f.upsertErr
	}
	f.upserted = append(f.upserted, rs...)
	return nil
}

func (f *tapFakes) WriteLogs(_ context.Context, ld plog.Logs) error {
	f.calls = append(f.calls, "logs")
	return f.writeErr
}

func (f *tapFakes) WriteTraces(_ context.Context, td ptrace.Traces) error {
	f.calls = append(f.calls, "spans")
	return f.writeErr
}

func newTestTap(t *testing.T) (*Tap, *tapFakes, *prometheus.Registry, *bytes.Buffer) {
	f := &tapFakes{}
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	return NewTap(f, f, f, slog.New(slog.NewTextHandler(&logs, nil)), reg), f, reg, &logs
}

func TestTapRecordsRunsBeforeWriting(t *testing.T) {
	tap, f, reg, _ := newTestTap(t)
	ctx := context.Background()
	require.NoError(t, tap.WriteLogs(ctx, runLogs(jobs.ScopeName, pcommon.NewValueStr(testRecordJSON(t, StatusRunning)))))
	require.Equal(t, []string{"upsert", "logs"}, f.calls)

	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	ss.Scope().SetName(jobs.ScopeName)
	ss.Spans().AppendEmpty().Attributes().PutStr(jobs.RecordAttribute, testRecordJSON(t, StatusSucceeded))
	require.NoError(t, tap.WriteTraces(ctx, td))
	require.Equal(t, []string{"upsert", "logs", "upsert", "spans"}, f.calls)
	require.Len(t, f.upserted, 2)
	require.Equal(t, StatusSucceeded, f.upserted[1].Status)
	require.Equal(t, 2.0, testutil.ToFloat64(tap.recorded))
	require.Equal(t, 0.0, testutil.ToFloat64(tap.rejected))
	n, err := testutil.GatherAndCount(reg, "loupe_runs_rejected_records_total", "loupe_runs_records_total")
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

func TestTapWithoutRunsOnlyWrites(t *testing.T) {
	tap, f, _, _ := newTestTap(t)
	require.NoError(t, tap.WriteLogs(context.Background(), runLogs("app")))
	require.NoError(t, tap.WriteTraces(context.Background(), ptrace.NewTraces()))
	require.Equal(t, []string{"logs", "spans"}, f.calls)
}

func TestTapStoresTheBatchOfABadRecord(t *testing.T) {
	tap, f, _, logs := newTestTap(t)
	err := tap.WriteLogs(context.Background(), runLogs(jobs.ScopeName, pcommon.NewValueStr(`{"record_version":1}`)))
	require.NoError(t, err)
	require.Equal(t, []string{"logs"}, f.calls)
	require.Equal(t, 1.0, testutil.ToFloat64(tap.rejected))
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "run_id")
}

func TestTapFailsTheBatchWhenTheRunIsNotRecorded(t *testing.T) {
	tap, f, _, _ := newTestTap(t)
	f.upsertErr = errors.New("disk full")
	err := tap.WriteLogs(context.Background(), runLogs(jobs.ScopeName, pcommon.NewValueStr(testRecordJSON(t, StatusRunning))))
	require.ErrorContains(t, err, "record runs: disk full")
	require.Equal(t, []string{"upsert"}, f.calls, "nothing acknowledged without its run row")

	f.upsertErr, f.writeErr, f.calls = nil, errors.New("write failed"), nil
	err = tap.WriteLogs(context.Background(), runLogs(jobs.ScopeName, pcommon.NewValueStr(testRecordJSON(t, StatusRunning))))
	require.ErrorContains(t, err, "write failed")
	require.Equal(t, []string{"upsert", "logs"}, f.calls)
}

func TestTapSharesMetricsOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewTap(&tapFakes{}, &tapFakes{}, &tapFakes{}, nil, reg)
	b := NewTap(&tapFakes{}, &tapFakes{}, &tapFakes{}, nil, reg)
	a.rejected.Inc()
	require.Equal(t, 1.0, testutil.ToFloat64(b.rejected))
}
