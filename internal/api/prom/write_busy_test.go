package prom_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// busyStore is the real TSDB whose commits are refused with store.ErrBusy while busy is
// set (rolled back, nothing stored), as the ClickHouse metric store's are when its insert
// limits refuse them (storage.clickhouse.insert_*).
type busyStore struct {
	*tsdb.Store
	busy atomic.Bool
}

func (b *busyStore) Appender(ctx context.Context) storage.Appender {
	return busyAppender{Appender: b.Store.Appender(ctx), b: b}
}

type busyAppender struct {
	storage.Appender
	b *busyStore
}

func (a busyAppender) Commit() error {
	if a.b.busy.Load() {
		_ = a.Appender.Rollback()
		return fmt.Errorf("%w: clickhouse metrics inserts: insert into samples did not finish within storage.clickhouse.insert_timeout 10s", store.ErrBusy)
	}
	return a.Appender.Commit()
}

// A remote write whose commit the store refuses as busy answers 503 (Prometheus retries
// it, honouring Retry-After), for 1.0 and 2.0, naming the limit; nothing is stored, and
// the same request goes through once the store keeps up.
func TestRemoteWriteBusyStore503(t *testing.T) {
	s, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	b := &busyStore{Store: s}
	b.busy.Store(true)
	api, err := prom.New(b, prom.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, api.Close()) })
	e := &writeEnv{store: s, api: api}

	body := rw1(t, series("rw_busy", 0, 0))
	code, msg := e.post(t, body, "application/x-protobuf")
	require.Equal(t, http.StatusServiceUnavailable, code, msg)
	require.Contains(t, msg, "storage.clickhouse.insert_timeout")
	require.Equal(t, 0, e.count(t, "rw_busy"))

	code, msg = e.post(t, rw2(t, "rw2_busy"), rw2Type)
	require.Equal(t, http.StatusServiceUnavailable, code, msg)
	require.Contains(t, msg, "storage.clickhouse.insert_timeout")
	require.Equal(t, 0, e.count(t, "rw2_busy"))

	b.busy.Store(false)
	code, msg = e.post(t, body, "application/x-protobuf")
	require.Equal(t, http.StatusNoContent, code, msg)
	require.Equal(t, 1, e.count(t, "rw_busy"))
}
