CREATE DATABASE IF NOT EXISTS `loupe` ON CLUSTER `loupe_cluster`;

CREATE TABLE IF NOT EXISTS `loupe`.loupe_schema_migrations ON CLUSTER `loupe_cluster` (component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}') ORDER BY (component, version);

-- runs version 1
CREATE TABLE IF NOT EXISTS `loupe`.runs_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	run_id String,
	version UInt64,
	name String CODEC(ZSTD(1)),
	status LowCardinality(String),
	host LowCardinality(String),
	user_name LowCardinality(String),
	command_line String CODEC(ZSTD(1)),
	start_ns Int64 CODEC(Delta, ZSTD(1)),
	end_ns Int64 CODEC(Delta, ZSTD(1)),
	duration_seconds Float64,
	exit_code Int32,
	signal LowCardinality(String),
	tags Map(String, String) CODEC(ZSTD(1)),
	peak_rss_bytes UInt64,
	max_rss_bytes UInt64,
	user_cpu_seconds Float64,
	system_cpu_seconds Float64,
	trace_id String CODEC(ZSTD(1)),
	record String CODEC(ZSTD(3))
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
PARTITION BY toYYYYMMDD(fromUnixTimestamp64Nano(start_ns, 'UTC'))
ORDER BY (tenant, run_id);

CREATE TABLE IF NOT EXISTS `loupe`.`runs` ON CLUSTER `loupe_cluster` AS `loupe`.`runs_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'runs_local', cityHash64(run_id));

-- runs version 2
ALTER TABLE `loupe`.runs_local ON CLUSTER `loupe_cluster` ADD COLUMN IF NOT EXISTS lost_after_ns Int64 DEFAULT 0;

ALTER TABLE `loupe`.runs ON CLUSTER `loupe_cluster` ADD COLUMN IF NOT EXISTS lost_after_ns Int64 DEFAULT 0;

