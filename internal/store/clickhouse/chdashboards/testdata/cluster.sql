CREATE DATABASE IF NOT EXISTS `loupe` ON CLUSTER `loupe_cluster`;

CREATE TABLE IF NOT EXISTS `loupe`.loupe_schema_migrations ON CLUSTER `loupe_cluster` (component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}') ORDER BY (component, version);

-- dashboards version 1
CREATE TABLE IF NOT EXISTS `loupe`.dashboards ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	uid String,
	seq UInt64,
	base UInt64,
	deleted Bool,
	writer String,
	updated_ns Int64,
	title String,
	tags Array(String),
	doc String CODEC(ZSTD(3))
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
ORDER BY (tenant, uid, seq)
SETTINGS replicated_deduplication_window = 1000, replicated_deduplication_window_seconds = 604800;

