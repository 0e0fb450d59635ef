package otelexc

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// fakeRecorder and fakeWriter log the order of calls.
type fakeRecorder struct {
	mu     sync.Mutex
	calls  *[]string
	events []errtrack.Event
	err    error
}

func (r *fakeRecorder) Record(_ context.Context, evs []errtrack.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.calls = append(*r.calls, "record")
	if r.err != nil {
		return r.err
	}
	r.events = append(r.events, evs...)
	return nil
}

type fakeWriter struct{ calls *[]string }

func (w fakeWriter) WriteLogs(context.Context, plog.Logs) error {
	*w.calls = append(*w.calls, "logs")
	return nil
}

func (w fakeWriter) WriteTraces(context.Context, ptrace.Traces) error {
	*w.calls = append(*w.calls, "spans")
	return nil
}

func logsWithException(msg string) plog.Logs {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Attributes().PutStr("exception.type", "ValueError")
	lr.Attributes().PutStr("exception.message", msg)
	return ld
}

func TestTapRecordsBeforeWriting(t *testing.T) {
	var calls []string
	rec := &fakeRecorder{calls: &calls}
	reg := prometheus.NewRegistry()
	tap := NewTap(rec, fakeWriter{&calls}, fakeWriter{&calls}, nil, reg)
	ctx := context.Background()

	require.NoError(t, tap.WriteLogs(ctx, logsWithException("bad")))
	td, _ := recordWithSDK(t, errors.New("x"))
	require.NoError(t, tap.WriteTraces(ctx, td))
	require.Equal(t, []string{"record", "logs", "record", "spans"}, calls)
	require.Len(t, rec.events, 2)
	require.Equal(t, 1.0, testutil.ToFloat64(tap.recorded.WithLabelValues(errtrack.SourceOTelLog)))

	// Batches without exceptions do not reach the recorder.
	calls = nil
	plain := plog.NewLogs()
	plain.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("ok")
	require.NoError(t, tap.WriteLogs(ctx, plain))
	require.NoError(t, tap.WriteTraces(ctx, ptrace.NewTraces()))
	require.Equal(t, []string{"logs", "spans"}, calls)
}

func TestTapFailsTheBatchWhenRecordingFails(t *testing.T) {
	var calls []string
	boom := errors.New("disk full")
	tap := NewTap(&fakeRecorder{calls: &calls, err: boom}, fakeWriter{&calls}, fakeWriter{&calls}, nil, nil)
	err := tap.WriteLogs(context.Background(), logsWithException("bad"))
	require.ErrorIs(t, err, boom, "the class of the error is kept (a full disk answers 503)")
	require.Equal(t, []string{"record"}, calls, "the batch is not written: the client retries it")
}
