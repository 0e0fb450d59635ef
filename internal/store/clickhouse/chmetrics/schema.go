package chmetrics

import "github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"

// The metric store keeps two tables (docs/scale-out.md, "Metrics"):
//
//   - metric_series: one row per series and UTC day on which the series received samples.
//     It holds the labels, so that label matchers and the label APIs never read samples,
//     and the day, so that a query only looks at the series active in its time range and
//     retention drops a day of series with the day of samples.
//   - metric_samples_v2: (metric name, series id, time, value), ordered by metric, series
//     id and time, so that the series of one metric, which a PromQL selector reads
//     together, lie in a few granules (migration 3), and each series' samples are a
//     contiguous range.
//
// The series id is labels.StableHash of the sorted label set (Prometheus documents that
// hash as stable across versions), so every node computes the same id for a series
// without coordination.
const (
	seriesTable    = "metric_series"
	samplesTable   = "metric_samples_v2"
	exemplarsTable = "metric_exemplars"
	component      = "metrics"
)

// migrations create the tables. Statements are chsql templates expanded by the schema
// (database, cluster): with a cluster each table is <table>_local on every shard, created
// ON CLUSTER, plus a Distributed table <table> over them sharded by series id, so that a
// series' samples stay on one shard.
//
// Neither table is a ReplacingMergeTree: duplicates (a series row written again by another
// node or after a restart, a sample re-sent by a retried request) are removed at read
// time (DISTINCT for series, the first row of each (series, time) for samples), which
// keeps the DDL the same plain MergeTree family as the other signals' tables.
var migrations = []chsql.Migration{{
	Version: 1,
	Statements: []string{
		`CREATE TABLE IF NOT EXISTS {db}.metric_series{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	day Date,
	metric LowCardinality(String) CODEC(ZSTD(1)),
	series_id UInt64,
	labels Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	INDEX idx_label_keys mapKeys(labels) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_label_values mapValues(labels) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = {MergeTree}
PARTITION BY day
ORDER BY (tenant, metric, series_id)
SETTINGS ttl_only_drop_parts = 1`,
		// ver orders the copies of one sample: the smallest (the first written) wins, as a
		// Prometheus TSDB keeps the first value of a timestamp. stale marks Prometheus'
		// staleness markers, a NaN whose payload would not survive every client's encoding.
		`CREATE TABLE IF NOT EXISTS {db}.metric_samples{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	series_id UInt64,
	ts_ms Int64 CODEC(DoubleDelta, ZSTD(1)),
	value Float64 CODEC(Gorilla, ZSTD(1)),
	stale Bool DEFAULT false CODEC(ZSTD(1)),
	ver UInt64 CODEC(Delta, ZSTD(1))
) ENGINE = {MergeTree}
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_ms, 'UTC'))
ORDER BY (tenant, series_id, ts_ms)
SETTINGS ttl_only_drop_parts = 1`,
		chsql.Distributed(seriesTable, "series_id"),
		chsql.Distributed("metric_samples", "series_id"), // replaced by metric_samples_v2 in migration 3
	},
}, {
	// Exemplars (trace ids on samples), by series and time like the samples.
	Version: 2,
	Statements: []string{
		`CREATE TABLE IF NOT EXISTS {db}.metric_exemplars{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	series_id UInt64,
	ts_ms Int64 CODEC(DoubleDelta, ZSTD(1)),
	value Float64 CODEC(ZSTD(1)),
	labels Map(LowCardinality(String), String) CODEC(ZSTD(1))
) ENGINE = {MergeTree}
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_ms, 'UTC'))
ORDER BY (tenant, series_id, ts_ms)
SETTINGS ttl_only_drop_parts = 1`,
		chsql.Distributed(exemplarsTable, "series_id"),
	},
}, {
	// metric_samples was ordered by (tenant, series_id, ts_ms): the ~100 series of one
	// metric, with random ids, were spread over most granules of the table, so a
	// selector read nearly all of it (docs/performance.md, 2026-12-07 20:40). ClickHouse
	// cannot change a table's ordering key, so the samples move to a new table ordered by
	// metric name first.
	//
	// The view forwards what nodes still running the previous version write to
	// metric_samples while the copy runs, so that nothing written before migration 4
	// drops the old table is left behind (a sample in both is read once). The copy joins
	// each sample with its series row for the name; a sample without one (written by a
	// failed commit) gets metric '', where no selector looks, as it had no series row to
	// be found by before either. Run again after an interruption, the copy duplicates
	// samples, which reads deduplicate. On a cluster the copy runs on the node that
	// migrates, through the Distributed tables (every shard joins its own series rows; the
	// rows go back to the shard they came from, as both tables shard by series id), and
	// waits for the shards' inserts. Only the leader runs it (LeaderOnly): two nodes
	// starting together would each copy the table.
	Version:    3,
	LeaderOnly: true,
	Statements: []string{
		samplesV2DDL,
		chsql.Distributed(samplesTable, "series_id"),
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.metric_samples_forward{local}{on_cluster} TO {db}.metric_samples_v2{local} AS ` + copySelect("{db}.metric_samples{local}"),
		"INSERT INTO {db}.metric_samples_v2 (tenant, metric, series_id, ts_ms, value, stale, ver) " + copySelect("{db}.metric_samples") +
			" SETTINGS distributed_foreground_insert = 1",
	},
}, {
	// The old samples table, once copied (migration 3). Nodes of the previous version
	// fail their metric writes from here on, which their clients retry, until they are
	// upgraded too.
	Version: 4,
	Statements: []string{
		"DROP VIEW IF EXISTS {db}.metric_samples_forward{local}{on_cluster} SYNC",
		"{cluster_only}DROP TABLE IF EXISTS {db}.metric_samples{on_cluster} SYNC",
		"DROP TABLE IF EXISTS {db}.metric_samples{local}{on_cluster} SYNC",
	},
}}

// samplesV2DDL is the samples table. ver orders the copies of one sample: the smallest
// (the first written) wins, as a Prometheus TSDB keeps the first value of a timestamp.
// stale marks Prometheus' staleness markers, a NaN whose payload would not survive every
// client's encoding. metric is the series' __name__ (empty without one), repeated in every
// row: LowCardinality and sorted first, it takes almost no space.
const samplesV2DDL = `CREATE TABLE IF NOT EXISTS {db}.metric_samples_v2{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	metric LowCardinality(String),
	series_id UInt64,
	ts_ms Int64 CODEC(DoubleDelta, ZSTD(1)),
	value Float64 CODEC(Gorilla, ZSTD(1)),
	stale Bool DEFAULT false CODEC(ZSTD(1)),
	ver UInt64 CODEC(Delta, ZSTD(1))
) ENGINE = {MergeTree}
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_ms, 'UTC'))
ORDER BY (tenant, metric, series_id, ts_ms)
SETTINGS ttl_only_drop_parts = 1`

// copySelect selects the rows of the old samples table from (a table of the previous
// schema) for metric_samples_v2, with each series' name from its series rows (on a
// cluster, those of the shard the query runs on: series and samples shard alike).
func copySelect(from string) string {
	return "SELECT s.tenant AS tenant, n.metric AS metric, s.series_id AS series_id, s.ts_ms AS ts_ms, s.value AS value, s.stale AS stale, s.ver AS ver FROM " + from +
		" AS s LEFT JOIN (SELECT DISTINCT tenant, series_id, metric FROM {db}.metric_series{local}) AS n ON s.tenant = n.tenant AND s.series_id = n.series_id"
}
