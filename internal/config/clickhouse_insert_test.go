package config

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// storage.clickhouse.insert_* (docs/scale-out.md, Ingest on a slow ClickHouse): defaults,
// loaded values, and each bad value named.
func TestClickHouseInsertLimits(t *testing.T) {
	ch := Default().Storage.ClickHouse
	require.Equal(t, 4, ch.InsertConcurrency)
	require.Equal(t, 64, ch.InsertQueue)
	require.Equal(t, model.Duration(10*time.Second), ch.InsertTimeout)

	cfg, err := Load(strings.NewReader("storage:\n  backend: clickhouse\n  clickhouse:\n    dsn: clickhouse://ch:9000\n" +
		"    insert_concurrency: 2\n    insert_queue: 0\n    insert_timeout: 3s\n"))
	require.NoError(t, err)
	require.Equal(t, 2, cfg.Storage.ClickHouse.InsertConcurrency)
	require.Equal(t, 0, cfg.Storage.ClickHouse.InsertQueue)
	require.Equal(t, model.Duration(3*time.Second), cfg.Storage.ClickHouse.InsertTimeout)

	cfg.Storage.ClickHouse.InsertConcurrency = 0
	cfg.Storage.ClickHouse.InsertQueue = -1
	cfg.Storage.ClickHouse.InsertTimeout = 0
	err = cfg.Validate()
	require.ErrorContains(t, err, "storage.clickhouse.insert_concurrency: 0, must be > 0")
	require.ErrorContains(t, err, "storage.clickhouse.insert_queue: -1, must be >= 0")
	require.ErrorContains(t, err, "storage.clickhouse.insert_timeout: 0s, must be > 0")
}
