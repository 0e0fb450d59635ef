package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// inFlightSender counts the requests it is answering at once and the items it got.
type inFlightSender struct {
	now, peak atomic.Int32
	mu        sync.Mutex
	items     int
}

func (s *inFlightSender) Send(_ context.Context, b Batch) (int, error) {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	s.mu.Lock()
	s.items += b.Items
	s.mu.Unlock()
	return 0, nil
}

func (s *inFlightSender) Close() error { return nil }

func TestRunClientsBuildsRequestsPerClientOneInFlightEach(t *testing.T) {
	var clients []Source
	for i := range 2 {
		lo := DefaultLogOptions()
		lo.Seed, lo.BatchSize, lo.ResourcesPerBatch = uint64(i+1), 512, 1
		g, err := NewLogGen(lo)
		require.NoError(t, err)
		clients = append(clients, LogSource(g, 5000))
	}
	s := &inFlightSender{}
	res, err := RunClients(context.Background(), s, clients, 3)
	require.NoError(t, err)
	// 5000 records in batches of 512 end at 10 batches, 5120 records, per client.
	require.Equal(t, 2*5120, res.Accepted)
	require.Equal(t, 2*5120, s.items)
	require.Equal(t, 20, res.Requests)
	require.LessOrEqual(t, s.peak.Load(), int32(2), "each client waits for its answer before the next request")
}
