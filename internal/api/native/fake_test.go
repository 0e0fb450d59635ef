package native

import (
	"context"
	"iter"
	"strconv"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// fakeStore is an in-memory LogReader and TraceReader. It records the queries it gets, so
// tests can check how parameters were translated, and applies only limit and cursor: the
// filters themselves are the real store's job and are tested in duck_test.go.
type fakeStore struct {
	mu sync.Mutex

	records   []store.LogRecord // newest first; Cursor is set to the index
	counts    []store.LogCount
	summaries []store.TraceSummary
	traces    map[pcommon.TraceID]ptrace.Traces
	services  []string
	spanNames map[string][]string

	err      error // returned by every method (yielded after the records by iterators)
	panicMsg string
	endless  bool // QueryLogs yields records until the consumer or the context stops it

	logQueries   []store.LogQuery
	countQueries []store.LogCountQuery
	traceQueries []store.TraceQuery
	spanNamesFor []string
	stopped      bool // an iterator saw its consumer stop or its context end
}

var (
	_ store.LogReader   = (*fakeStore)(nil)
	_ store.TraceReader = (*fakeStore)(nil)
)

func (f *fakeStore) QueryLogs(ctx context.Context, q store.LogQuery) iter.Seq2[store.LogRecord, error] {
	f.mu.Lock()
	f.logQueries = append(f.logQueries, q)
	f.mu.Unlock()
	return func(yield func(store.LogRecord, error) bool) {
		if f.panicMsg != "" {
			panic(f.panicMsg)
		}
		if f.endless {
			for i := 0; ; i++ {
				if err := ctx.Err(); err != nil {
					f.setStopped()
					yield(store.LogRecord{}, err)
					return
				}
				if !yield(store.LogRecord{Body: "endless", Cursor: strconv.Itoa(i)}, nil) {
					f.setStopped()
					return
				}
			}
		}
		start := 0
		if q.Cursor != "" {
			i, err := strconv.Atoi(q.Cursor)
			if err != nil {
				yield(store.LogRecord{}, err)
				return
			}
			start = i + 1
		}
		limit := min(q.Limit, 10000)
		for i := start; i < len(f.records) && i-start < limit; i++ {
			rec := f.records[i]
			rec.Cursor = strconv.Itoa(i)
			if !yield(rec, nil) {
				f.setStopped()
				return
			}
		}
		if f.err != nil {
			yield(store.LogRecord{}, f.err)
		}
	}
}

func (f *fakeStore) setStopped() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
}

func (f *fakeStore) CountLogs(_ context.Context, q store.LogCountQuery) ([]store.LogCount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.countQueries = append(f.countQueries, q)
	return f.counts, f.err
}

func (f *fakeStore) GetTrace(_ context.Context, id pcommon.TraceID) (ptrace.Traces, error) {
	if f.err != nil {
		return ptrace.Traces{}, f.err
	}
	td, ok := f.traces[id]
	if !ok {
		return ptrace.Traces{}, store.ErrNotFound
	}
	return td, nil
}

func (f *fakeStore) FindTraces(_ context.Context, q store.TraceQuery) iter.Seq2[store.TraceSummary, error] {
	f.mu.Lock()
	f.traceQueries = append(f.traceQueries, q)
	f.mu.Unlock()
	return func(yield func(store.TraceSummary, error) bool) {
		// Deliberately ignores q.Limit: the handler must bound the answer itself.
		for _, s := range f.summaries {
			if !yield(s, nil) {
				f.setStopped()
				return
			}
		}
		if f.err != nil {
			yield(store.TraceSummary{}, f.err)
		}
	}
}

func (f *fakeStore) Services(context.Context) ([]string, error) {
	return f.services, f.err
}

func (f *fakeStore) SpanNames(_ context.Context, service string) ([]string, error) {
	f.mu.Lock()
	f.spanNamesFor = append(f.spanNamesFor, service)
	f.mu.Unlock()
	return f.spanNames[service], f.err
}
