package chmetrics

import "github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"

// The metric store keeps two tables (docs/scale-out.md, "Metrics"):
//
//   - metric_series: one row per series and UTC day on which the series received samples.
//     It holds the labels, so that label matchers and the label APIs never read samples,
//     and the day, so that a query only looks at the series active in its time range and
//     retention drops a day of series with the day of samples.
//   - metric_samples: (series id, time, value), ordered by series id and time, so that a
//     PromQL selector reads a contiguous range of each matching series.
//
// The series id is labels.StableHash of the sorted label set (Prometheus documents that
// hash as stable across versions), so every node computes the same id for a series
// without coordination.

const (
	seriesTable    = "metric_series"
	samplesTable   = "metric_samples"
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
		chsql.Distributed(samplesTable, "series_id"),
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
}}
