CREATE DATABASE IF NOT EXISTS `loupe` ON CLUSTER `loupe_cluster`;

CREATE TABLE IF NOT EXISTS `loupe`.loupe_schema_migrations ON CLUSTER `loupe_cluster` (component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}') ORDER BY (component, version);

-- metrics version 1
CREATE TABLE IF NOT EXISTS `loupe`.metric_series_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	day Date,
	metric LowCardinality(String) CODEC(ZSTD(1)),
	series_id UInt64,
	labels Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	INDEX idx_label_keys mapKeys(labels) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_label_values mapValues(labels) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY day
ORDER BY (tenant, metric, series_id)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `loupe`.metric_samples_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	series_id UInt64,
	ts_ms Int64 CODEC(DoubleDelta, ZSTD(1)),
	value Float64 CODEC(Gorilla, ZSTD(1)),
	stale Bool DEFAULT false CODEC(ZSTD(1)),
	ver UInt64 CODEC(Delta, ZSTD(1))
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_ms, 'UTC'))
ORDER BY (tenant, series_id, ts_ms)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `loupe`.`metric_series` ON CLUSTER `loupe_cluster` AS `loupe`.`metric_series_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'metric_series_local', series_id);

CREATE TABLE IF NOT EXISTS `loupe`.`metric_samples` ON CLUSTER `loupe_cluster` AS `loupe`.`metric_samples_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'metric_samples_local', series_id);

-- metrics version 2
CREATE TABLE IF NOT EXISTS `loupe`.metric_exemplars_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	series_id UInt64,
	ts_ms Int64 CODEC(DoubleDelta, ZSTD(1)),
	value Float64 CODEC(ZSTD(1)),
	labels Map(LowCardinality(String), String) CODEC(ZSTD(1))
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_ms, 'UTC'))
ORDER BY (tenant, series_id, ts_ms)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `loupe`.`metric_exemplars` ON CLUSTER `loupe_cluster` AS `loupe`.`metric_exemplars_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'metric_exemplars_local', series_id);

-- metrics version 3
CREATE TABLE IF NOT EXISTS `loupe`.metric_samples_v2_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	metric LowCardinality(String),
	series_id UInt64,
	ts_ms Int64 CODEC(DoubleDelta, ZSTD(1)),
	value Float64 CODEC(Gorilla, ZSTD(1)),
	stale Bool DEFAULT false CODEC(ZSTD(1)),
	ver UInt64 CODEC(Delta, ZSTD(1))
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(fromUnixTimestamp64Milli(ts_ms, 'UTC'))
ORDER BY (tenant, metric, series_id, ts_ms)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `loupe`.`metric_samples_v2` ON CLUSTER `loupe_cluster` AS `loupe`.`metric_samples_v2_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'metric_samples_v2_local', series_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS `loupe`.metric_samples_forward_local ON CLUSTER `loupe_cluster` TO `loupe`.metric_samples_v2_local AS SELECT s.tenant AS tenant, n.metric AS metric, s.series_id AS series_id, s.ts_ms AS ts_ms, s.value AS value, s.stale AS stale, s.ver AS ver FROM `loupe`.metric_samples_local AS s LEFT JOIN (SELECT DISTINCT tenant, series_id, metric FROM `loupe`.metric_series_local) AS n ON s.tenant = n.tenant AND s.series_id = n.series_id;

INSERT INTO `loupe`.metric_samples_v2 (tenant, metric, series_id, ts_ms, value, stale, ver) SELECT s.tenant AS tenant, n.metric AS metric, s.series_id AS series_id, s.ts_ms AS ts_ms, s.value AS value, s.stale AS stale, s.ver AS ver FROM `loupe`.metric_samples AS s LEFT JOIN (SELECT DISTINCT tenant, series_id, metric FROM `loupe`.metric_series_local) AS n ON s.tenant = n.tenant AND s.series_id = n.series_id SETTINGS distributed_foreground_insert = 1;

-- metrics version 4
DROP VIEW IF EXISTS `loupe`.metric_samples_forward_local ON CLUSTER `loupe_cluster` SYNC;

DROP TABLE IF EXISTS `loupe`.metric_samples ON CLUSTER `loupe_cluster` SYNC;

DROP TABLE IF EXISTS `loupe`.metric_samples_local ON CLUSTER `loupe_cluster` SYNC;

