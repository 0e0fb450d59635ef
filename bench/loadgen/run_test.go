package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// fakeSender records the order batches arrive in per shard and plays back refusals.
type fakeSender struct {
	mu      sync.Mutex
	order   map[int][]int // shard -> sequence numbers (Items carries the sequence here)
	refused map[int]bool  // sequence numbers already refused once
}

func (f *fakeSender) Send(_ context.Context, b Batch) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := b.Items
	switch {
	case seq%10 == 3 && !f.refused[seq]:
		f.refused[seq] = true
		return 0, &RetryableError{Err: errors.New("busy")}
	case seq%10 == 7:
		return 0, errors.New("bad batch")
	case seq%10 == 5:
		f.order[b.Shard] = append(f.order[b.Shard], seq)
		return 1, nil // partial success
	}
	f.order[b.Shard] = append(f.order[b.Shard], seq)
	return 0, nil
}

func (f *fakeSender) Close() error { return nil }

func TestRunKeepsShardOrderRetriesAndCounts(t *testing.T) {
	var batches []Batch
	total := 0
	for i := 1; i <= 100; i++ {
		batches = append(batches, Batch{Body: []byte("x"), Items: i, Shard: i % 3})
		total += i
	}
	f := &fakeSender{order: map[int][]int{}, refused: map[int]bool{}}
	res, err := Run(context.Background(), f, SliceSource(batches), RunOptions{Concurrency: 3, MaxRetries: 3})
	require.NoError(t, err)
	for shard, seqs := range f.order {
		for i := 1; i < len(seqs); i++ {
			require.Less(t, seqs[i-1], seqs[i], "shard %d out of order", shard)
		}
	}
	failedItems, partial := 0, 0
	for i := 1; i <= 100; i++ {
		switch i % 10 {
		case 7:
			failedItems += i
		case 5:
			partial++
		}
	}
	require.Equal(t, total, res.Items)
	require.Equal(t, 10, res.Failed)
	require.Equal(t, 10, res.Retries)
	require.Equal(t, failedItems+partial, res.Rejected)
	require.Equal(t, total-failedItems-partial, res.Accepted)
	require.Equal(t, 110, res.Requests)
	require.Equal(t, []string{"bad batch"}, res.Errors)
	require.Positive(t, res.Latency.Max)
}

func TestRunPacesToRate(t *testing.T) {
	var batches []Batch
	for range 5 {
		batches = append(batches, Batch{Items: 100})
	}
	f := &fakeSender{order: map[int][]int{}, refused: map[int]bool{}}
	res, err := Run(context.Background(), f, SliceSource(batches), RunOptions{Concurrency: 2, Rate: 2000})
	require.NoError(t, err)
	// The fifth batch is due after 400 items at 2000/s: 200 ms. Only a lower bound is safe.
	require.GreaterOrEqual(t, res.Elapsed, 200*time.Millisecond)
}

func TestHTTPSenderReadsPartialSuccessAndRetryAfter(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		require.Equal(t, "/v1/logs", r.URL.Path)
		require.Equal(t, "application/x-protobuf", r.Header.Get("Content-Type"))
		if calls == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		resp := plogotlp.NewExportResponse()
		resp.PartialSuccess().SetRejectedLogRecords(2)
		b, err := resp.MarshalProto()
		require.NoError(t, err)
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	s, err := NewSender(OTLPHTTP, Logs, srv.URL, 1)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Send(context.Background(), Batch{Body: []byte{}, Items: 10})
	var retry *RetryableError
	require.ErrorAs(t, err, &retry)
	require.Equal(t, time.Second, retry.After)
	rejected, err := s.Send(context.Background(), Batch{Body: []byte{}, Items: 10})
	require.NoError(t, err)
	require.Equal(t, 2, rejected)
}
