CREATE DATABASE IF NOT EXISTS `loupe` ON CLUSTER `loupe_cluster`;

CREATE TABLE IF NOT EXISTS `loupe`.loupe_schema_migrations ON CLUSTER `loupe_cluster` (component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}') ORDER BY (component, version);

-- errors version 1
CREATE TABLE IF NOT EXISTS `loupe`.error_events_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	issue_id String,
	ts_ns Int64 CODEC(Delta, ZSTD(1)),
	event_id String,
	received_ns Int64 CODEC(Delta, ZSTD(1)),
	project LowCardinality(String),
	service LowCardinality(String),
	environment LowCardinality(String),
	release LowCardinality(String),
	level LowCardinality(String),
	user_key String CODEC(ZSTD(1)),
	trace_id String CODEC(ZSTD(1)),
	grouping_key String CODEC(ZSTD(1)),
	grouping_version UInt16,
	title String CODEC(ZSTD(1)),
	culprit String CODEC(ZSTD(1)),
	type String CODEC(ZSTD(1)),
	tags Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	event String CODEC(ZSTD(3)),
	INDEX event_id_idx event_id TYPE bloom_filter GRANULARITY 1,
	INDEX trace_id_idx trace_id TYPE bloom_filter GRANULARITY 1
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMMDD(fromUnixTimestamp64Nano(ts_ns, 'UTC'))
ORDER BY (tenant, issue_id, ts_ns, event_id)
SETTINGS replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `loupe`.error_issue_stats_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	issue_id String,
	first AggregateFunction(argMin, Tuple(String, UInt16, String, String, String, String, String), Int64),
	first_seen SimpleAggregateFunction(min, Int64),
	last_seen SimpleAggregateFunction(max, Int64),
	events SimpleAggregateFunction(sum, UInt64),
	users AggregateFunction(uniqExactIf, String, UInt8),
	first_release AggregateFunction(argMinIf, String, Int64, UInt8),
	last_release AggregateFunction(argMaxIf, String, Int64, UInt8),
	level AggregateFunction(argMaxIf, String, Int64, UInt8),
	last_event_id AggregateFunction(argMax, String, Tuple(Int64, String)),
	releases SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
	environments SimpleAggregateFunction(groupUniqArrayArray, Array(String))
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (tenant, issue_id)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS `loupe`.error_issue_state_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	issue_id String,
	version UInt64,
	status LowCardinality(String),
	resolved_in_release String,
	ignore_until_ns Int64,
	ignore_count Int64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY (tenant, issue_id);

CREATE TABLE IF NOT EXISTS `loupe`.error_releases_local ON CLUSTER `loupe_cluster` (
	tenant LowCardinality(String) DEFAULT '',
	scope String,
	release String,
	first_seen SimpleAggregateFunction(min, Int64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (tenant, scope, release)
SETTINGS replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `loupe`.error_issue_stats_mv_local ON CLUSTER `loupe_cluster`
TO `loupe`.error_issue_stats_local AS SELECT
	tenant, issue_id,
	argMinState(tuple(grouping_key, grouping_version, title, culprit, type, toString(project), toString(service)), ts_ns) AS first,
	min(ts_ns) AS first_seen,
	max(ts_ns) AS last_seen,
	toUInt64(count()) AS events,
	uniqExactIfState(user_key, user_key != '') AS users,
	argMinIfState(toString(release), ts_ns, release != '') AS first_release,
	argMaxIfState(toString(release), ts_ns, release != '') AS last_release,
	argMaxIfState(toString(level), ts_ns, level != '') AS level,
	argMaxState(event_id, tuple(ts_ns, event_id)) AS last_event_id,
	groupUniqArrayIf(toString(release), release != '') AS releases,
	groupUniqArrayIf(toString(environment), environment != '') AS environments
FROM `loupe`.error_events_local GROUP BY tenant, issue_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS `loupe`.error_releases_mv_local ON CLUSTER `loupe_cluster`
TO `loupe`.error_releases_local AS SELECT
	tenant, if(project != '', concat('project:', project), concat('service:', service)) AS scope,
	toString(release) AS release, min(ts_ns) AS first_seen
FROM `loupe`.error_events_local WHERE release != '' GROUP BY tenant, scope, release;

CREATE TABLE IF NOT EXISTS `loupe`.`error_events` ON CLUSTER `loupe_cluster` AS `loupe`.`error_events_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'error_events_local', cityHash64(issue_id));

CREATE TABLE IF NOT EXISTS `loupe`.`error_issue_stats` ON CLUSTER `loupe_cluster` AS `loupe`.`error_issue_stats_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'error_issue_stats_local', cityHash64(issue_id));

CREATE TABLE IF NOT EXISTS `loupe`.`error_issue_state` ON CLUSTER `loupe_cluster` AS `loupe`.`error_issue_state_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'error_issue_state_local', cityHash64(issue_id));

CREATE TABLE IF NOT EXISTS `loupe`.`error_releases` ON CLUSTER `loupe_cluster` AS `loupe`.`error_releases_local` ENGINE = Distributed('loupe_cluster', 'loupe', 'error_releases_local', cityHash64(scope));

