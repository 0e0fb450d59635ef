package server

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/config"
)

type countingComponent struct{ starts, stops int }

func (c *countingComponent) Start(context.Context) error    { c.starts++; return nil }
func (c *countingComponent) Shutdown(context.Context) error { c.stops++; return nil }

// A node with storage.clickhouse.leader: false registers the once-only work for Shutdown
// but does not start it; the leader (and the embedded backend, one node) starts it.
func TestStartOnceOnlyOnTheLeader(t *testing.T) {
	f := func(backend string, leader bool, wantStarted bool) {
		t.Helper()
		cfg := config.Default()
		cfg.Storage.Backend, cfg.Storage.ClickHouse.Leader = backend, leader
		s := New(cfg, nil, slog.New(slog.DiscardHandler))
		c := &countingComponent{}
		require.NoError(t, s.startOnce(context.Background(), onceRules, c))
		require.NoError(t, s.Shutdown(context.Background()))
		if wantStarted {
			require.Equal(t, 1, c.starts)
			require.Equal(t, []string{onceRules}, s.onceStarted)
			require.Empty(t, s.onceSkipped)
		} else {
			require.Zero(t, c.starts)
			require.Equal(t, []string{onceRules}, s.onceSkipped)
			require.Empty(t, s.onceStarted)
		}
		require.Equal(t, 1, c.stops, "shut down either way")
	}
	f(config.BackendClickHouse, true, true)
	f(config.BackendClickHouse, false, false)
	f(config.BackendEmbedded, true, true)
}

// Every once-only part of a started (embedded, so leader) server is started through
// startOnce: the list a non-leader skips is this one (leader_chdb_test.go checks it on
// ClickHouse).
func TestServerStartsEveryOnceOnlyPart(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.ListenConfig{HTTP: "127.0.0.1:0", OTLPGRPC: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0"}
	cfg.Statsd.UDPAddr, cfg.Statsd.TCPAddr = "", ""
	require.NoError(t, cfg.Validate())
	s := New(cfg, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	require.ElementsMatch(t, []string{onceScrape, onceProfiling, onceCrons, onceRules, onceRetention}, s.onceStarted)
	require.Empty(t, s.onceSkipped)
}
