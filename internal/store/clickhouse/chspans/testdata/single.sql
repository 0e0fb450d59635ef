CREATE DATABASE IF NOT EXISTS `loupe`;

CREATE TABLE IF NOT EXISTS `loupe`.loupe_schema_migrations (component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY (component, version);

-- spans version 1
CREATE TABLE IF NOT EXISTS `loupe`.spans (
	tenant LowCardinality(String) DEFAULT '',
	service LowCardinality(String),
	name LowCardinality(String),
	start DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
	duration_ns Int64 CODEC(T64, ZSTD(1)),
	trace_id String CODEC(ZSTD(1)),
	span_id String CODEC(ZSTD(1)),
	parent_span_id String CODEC(ZSTD(1)),
	trace_state String CODEC(ZSTD(1)),
	flags UInt32 CODEC(T64, ZSTD(1)),
	kind Int8,
	status_code Int8,
	status_message String CODEC(ZSTD(1)),
	attr_keys Array(LowCardinality(String)) EPHEMERAL,
	attr_values Array(String) EPHEMERAL,
	attributes Map(LowCardinality(String), String) DEFAULT mapFromArrays(attr_keys, attr_values) CODEC(ZSTD(1)),
	attr_types LowCardinality(String),
	res_keys Array(LowCardinality(String)) EPHEMERAL,
	res_values Array(String) EPHEMERAL,
	resource Map(LowCardinality(String), String) DEFAULT mapFromArrays(res_keys, res_values) CODEC(ZSTD(1)),
	resource_types LowCardinality(String),
	resource_schema_url LowCardinality(String),
	scope_name LowCardinality(String),
	scope_version LowCardinality(String),
	scope_attrs String CODEC(ZSTD(1)),
	scope_schema_url LowCardinality(String),
	events String CODEC(ZSTD(1)),
	links String CODEC(ZSTD(1)),
	dropped_attributes UInt32 CODEC(T64, ZSTD(1)),
	dropped_events UInt32 CODEC(T64, ZSTD(1)),
	dropped_links UInt32 CODEC(T64, ZSTD(1)),
	INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
	INDEX idx_attr_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_attr_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_res_keys mapKeys(resource) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_res_values mapValues(resource) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_duration duration_ns TYPE minmax GRANULARITY 1,
	INDEX idx_status status_code TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(start)
ORDER BY (tenant, service, start)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS `loupe`.span_traces (
	tenant LowCardinality(String) DEFAULT '',
	trace_id String CODEC(ZSTD(1)),
	day Date,
	start_min SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
	start_max SimpleAggregateFunction(max, DateTime64(9, 'UTC'))
) ENGINE = AggregatingMergeTree
PARTITION BY day
ORDER BY (tenant, trace_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS `loupe`.span_traces_mv TO `loupe`.span_traces AS
SELECT tenant, trace_id, toDate(start) AS day, min(start) AS start_min, max(start) AS start_max
FROM `loupe`.spans GROUP BY tenant, trace_id, day;

CREATE TABLE IF NOT EXISTS `loupe`.span_names (
	tenant LowCardinality(String) DEFAULT '',
	day Date,
	service LowCardinality(String),
	name LowCardinality(String)
) ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (tenant, service, name, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS `loupe`.span_names_mv TO `loupe`.span_names AS
SELECT tenant, toDate(start) AS day, service, name
FROM `loupe`.spans GROUP BY tenant, day, service, name;

-- spans version 2
ALTER TABLE `loupe`.spans MODIFY SETTING min_compress_block_size = 4096, max_compress_block_size = 65536;

