//go:build chdb

package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// A node of a ClickHouse database with storage.clickhouse.leader: false starts none of the
// work that must happen once (rules, retention, Crons checks, scrapes) and still opens
// the stores and answers queries once the leader has migrated the schema; Reload keeps
// working (the rules are recorded, not run).
// Run with CHDB_LIB_PATH=... go test -tags chdb ./internal/server -run TestNonLeader.
func TestNonLeaderStartsNoOnceOnlyWork(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.ListenConfig{HTTP: "127.0.0.1:0", OTLPGRPC: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0"}
	cfg.Statsd.UDPAddr, cfg.Statsd.TCPAddr = "", ""
	cfg.Storage.Backend = config.BackendClickHouse
	cfg.Storage.ClickHouse.DSN, cfg.Storage.ClickHouse.Database = chsqltest.DSN(t) // the process's one chDB session
	cfg.Storage.ClickHouse.Leader = false
	require.NoError(t, cfg.Validate())
	s := New(cfg, func() (config.Config, error) { return cfg, nil }, slog.New(slog.DiscardHandler))
	started := make(chan error, 1)
	go func() { started <- s.Start(context.Background()) }()
	// The database is new: the non-leader waits for the leader to run the migrations
	// that must run once (chsql.Migration.LeaderOnly) before it is ready.
	select {
	case err := <-started:
		t.Fatalf("the non-leader started without the leader: %v", err)
	case <-time.After(2 * time.Second):
	}
	leaderCfg := cfg
	leaderCfg.DataDir = t.TempDir()
	leaderCfg.Storage.ClickHouse.Leader = true
	leader := New(leaderCfg, func() (config.Config, error) { return leaderCfg, nil }, slog.New(slog.DiscardHandler))
	require.NoError(t, leader.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, leader.Shutdown(context.Background())) })
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the non-leader is not ready 30 s after the leader")
	}
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })

	require.Empty(t, s.onceStarted)
	require.ElementsMatch(t, []string{onceScrape, onceProfiling, onceCrons, onceRules, onceRetention}, s.onceSkipped)

	for _, path := range []string{
		"/api/v1/query?query=" + url.QueryEscape("vector(1)"),
		"/loki/api/v1/query_range?query=" + url.QueryEscape(`{service_name="x"}`),
		"/api/v1/rules",
	} {
		resp, err := http.Get("http://" + s.HTTPAddr() + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	}
	require.NoError(t, s.Reload(context.Background()))
}
