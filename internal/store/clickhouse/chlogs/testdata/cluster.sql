CREATE DATABASE IF NOT EXISTS `loupe` ON CLUSTER `loupe_cluster`;

CREATE TABLE IF NOT EXISTS `loupe`.loupe_schema_migrations ON CLUSTER `loupe_cluster` (component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}') ORDER BY (component, version);

-- logs version 1
CREATE TABLE IF NOT EXISTS `loupe`.logs_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	service LowCardinality(String),
	ts DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
	seq UInt64 CODEC(ZSTD(1)),
	observed_ts DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
	severity_number UInt8,
	severity_text LowCardinality(String),
	body String CODEC(ZSTD(1)),
	trace_id FixedString(16) CODEC(ZSTD(1)),
	span_id FixedString(8) CODEC(ZSTD(1)),
	flags UInt32,
	attr_keys Array(LowCardinality(String)) EPHEMERAL,
	attr_values Array(String) EPHEMERAL,
	attributes Map(LowCardinality(String), String) DEFAULT mapFromArrays(attr_keys, attr_values) CODEC(ZSTD(1)),
	attr_types LowCardinality(String),
	res_keys Array(LowCardinality(String)) EPHEMERAL,
	res_values Array(String) EPHEMERAL,
	resource Map(LowCardinality(String), String) DEFAULT mapFromArrays(res_keys, res_values) CODEC(ZSTD(1)),
	resource_types LowCardinality(String),
	scope_name LowCardinality(String),
	scope_version LowCardinality(String),
	INDEX idx_body lowerUTF8(body) TYPE ngrambf_v1(3, 32768, 3, 0) GRANULARITY 1,
	INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
	INDEX idx_attr_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_attr_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_res_keys mapKeys(resource) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_res_values mapValues(resource) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_severity severity_number TYPE minmax GRANULARITY 1
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(ts)
ORDER BY (tenant, service, ts)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `loupe`.`logs` ON CLUSTER `loupe_cluster` AS `loupe`.`logs_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'logs_local', rand());

-- logs version 2
ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` ADD COLUMN IF NOT EXISTS stream_key UInt64 MATERIALIZED cityHash64(mapKeys(resource), mapValues(resource), resource_types) CODEC(ZSTD(1));

ALTER TABLE `loupe`.logs ON CLUSTER `loupe_cluster` ADD COLUMN IF NOT EXISTS stream_key UInt64 MATERIALIZED cityHash64(mapKeys(resource), mapValues(resource), resource_types);

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` ADD INDEX IF NOT EXISTS idx_body_tokens arrayMap(t -> substring(t, 1, 6), tokens(lowerUTF8(body))) TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` ADD INDEX IF NOT EXISTS idx_ts ts TYPE minmax GRANULARITY 1;

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` ADD PROJECTION IF NOT EXISTS p_attr_keys (SELECT tenant, toDate(ts), groupUniqArrayArray(mapKeys(attributes)) GROUP BY tenant, toDate(ts));

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` ADD PROJECTION IF NOT EXISTS p_counts (SELECT tenant, service, toStartOfSecond(ts), severity_text, severity_number, count() GROUP BY tenant, service, toStartOfSecond(ts), severity_text, severity_number);

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` MATERIALIZE COLUMN stream_key;

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` MATERIALIZE INDEX idx_body_tokens;

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` MATERIALIZE INDEX idx_ts;

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` MATERIALIZE PROJECTION p_attr_keys;

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` MATERIALIZE PROJECTION p_counts;

-- logs version 3
ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` ADD PROJECTION IF NOT EXISTS p_streams (SELECT tenant, stream_key, service, toStartOfSecond(ts), min(ts), count(), sum(length(body)) GROUP BY tenant, stream_key, service, toStartOfSecond(ts));

ALTER TABLE `loupe`.logs_local ON CLUSTER `loupe_cluster` MATERIALIZE PROJECTION p_streams;

