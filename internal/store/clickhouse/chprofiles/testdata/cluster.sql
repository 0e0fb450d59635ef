CREATE DATABASE IF NOT EXISTS `loupe` ON CLUSTER `loupe_cluster`;

CREATE TABLE IF NOT EXISTS `loupe`.loupe_schema_migrations ON CLUSTER `loupe_cluster` (component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}') ORDER BY (component, version);

-- profiles version 1
CREATE TABLE IF NOT EXISTS `loupe`.profile_samples_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	type LowCardinality(String),
	series_id UInt64,
	ts Int64 CODEC(DoubleDelta, ZSTD(1)),
	stack_id UInt64 CODEC(ZSTD(1)),
	value Int64 CODEC(T64, ZSTD(1)),
	span_id UInt64 CODEC(ZSTD(1)),
	span_name LowCardinality(String) CODEC(ZSTD(1)),
	INDEX span_idx span_id TYPE bloom_filter(0.01) GRANULARITY 4
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMMDD(fromUnixTimestamp64Nano(ts, 'UTC'))
ORDER BY (tenant, type, series_id, ts, stack_id);

CREATE TABLE IF NOT EXISTS `loupe`.`profile_samples` ON CLUSTER `loupe_cluster` AS `loupe`.`profile_samples_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'profile_samples_local', series_id);

CREATE TABLE IF NOT EXISTS `loupe`.profiles_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	type LowCardinality(String),
	series_id UInt64,
	ts Int64 CODEC(DoubleDelta, ZSTD(1)),
	duration_ns Int64 CODEC(ZSTD(1)),
	period Int64 CODEC(ZSTD(1)),
	labels Map(LowCardinality(String), String) CODEC(ZSTD(1))
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMMDD(fromUnixTimestamp64Nano(ts, 'UTC'))
ORDER BY (tenant, type, series_id, ts);

CREATE TABLE IF NOT EXISTS `loupe`.`profiles` ON CLUSTER `loupe_cluster` AS `loupe`.`profiles_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'profiles_local', series_id);

CREATE TABLE IF NOT EXISTS `loupe`.profile_stacks_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	day_ns Int64,
	stack_id UInt64,
	frames Array(UInt64) CODEC(ZSTD(1))
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMMDD(fromUnixTimestamp64Nano(day_ns, 'UTC'))
ORDER BY (tenant, stack_id);

CREATE TABLE IF NOT EXISTS `loupe`.`profile_stacks` ON CLUSTER `loupe_cluster` AS `loupe`.`profile_stacks_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'profile_stacks_local', stack_id);

CREATE TABLE IF NOT EXISTS `loupe`.profile_functions_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	day_ns Int64,
	function_id UInt64,
	name String CODEC(ZSTD(1)),
	file String CODEC(ZSTD(1))
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMMDD(fromUnixTimestamp64Nano(day_ns, 'UTC'))
ORDER BY (tenant, function_id);

CREATE TABLE IF NOT EXISTS `loupe`.`profile_functions` ON CLUSTER `loupe_cluster` AS `loupe`.`profile_functions_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'profile_functions_local', function_id);

