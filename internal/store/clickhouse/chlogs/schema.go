package chlogs

import "github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"

// The log schema: one table, logs, partitioned by day (toDate(ts)) so that retention
// drops whole partitions (DropBefore) and TTL expires whole parts.
//
//   - ORDER BY (tenant, service, ts): the log views always name a time range and often a
//     service; within a service the rows of one time range are contiguous, and timestamps
//     in order compress to almost nothing with Delta. tenant comes first with default ”
//     so that tenants (issue 12) come without a table rewrite.
//   - seq is the tie-breaker of the newest-first order (ts DESC, seq DESC), which makes
//     cursors stable: ClickHouse has no row id that survives merges. It is a random number
//     per batch plus the record's index in the batch (WriteLogs), so records of one batch
//     differ for certain and records of two batches share it with odds of 2^-44.
//   - body: ZSTD, and an ngrambf_v1 skip index over lowerUTF8(body), which serves the
//     case-insensitive substring filter (lowerUTF8(body) LIKE '%needle%'): granules
//     without all the needle's trigrams are skipped. tokenbf_v1 would only serve whole
//     words, and the filter is a substring match.
//   - trace_id (FixedString(16), zeros when absent) with a bloom_filter index: "logs of
//     this trace" reads only the granules that may hold it.
//   - attributes and resource: Map(LowCardinality(String), String) of string forms
//     (chattrs) with bloom_filter indexes on keys and values, filled from EPHEMERAL key
//     and value arrays (Conn.Insert takes Go maps, which have no order; the type letters
//     follow the order of the arrays).
//   - LowCardinality for the columns with few distinct values (service, severity text,
//     scope, type letters), Delta for times, ZSTD for text.
const logsDDL = `CREATE TABLE IF NOT EXISTS {db}.logs{local}{on_cluster} (
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
) ENGINE = {MergeTree}
PARTITION BY toDate(ts)
ORDER BY (tenant, service, ts)
SETTINGS ttl_only_drop_parts = 1`

// component is the name this package's migrations are recorded under.
const component = "logs"

// table is the table the store reads and writes (Distributed with a cluster).
const table = "logs"

// migrations is the log schema's history. With a cluster, records are spread over the
// shards at random: every query reads all shards anyway (a time range over all services).
var migrations = []chsql.Migration{{Version: 1, Statements: []string{
	logsDDL,
	chsql.Distributed(table, "rand()"),
}}, {Version: 2, Statements: queryIndexes}, {Version: 3, Statements: []string{
	// Per stream and second: the first record's time, the records and their body bytes,
	// from which LogQL lists the streams of a range (logqlStore.streamsQuery).
	"ALTER TABLE {db}.logs{local}{on_cluster} ADD PROJECTION IF NOT EXISTS p_streams (SELECT tenant, stream_key, service, toStartOfSecond(ts), min(ts), count(), sum(length(body)) GROUP BY tenant, stream_key, service, toStartOfSecond(ts))",
	"ALTER TABLE {db}.logs{local}{on_cluster} MATERIALIZE PROJECTION p_streams",
}}}

// queryIndexes (migration 2) are what the hot log queries lacked on 2M records
// (docs/performance.md, issue 16: 4-70x the embedded backend). Each is added to existing
// tables and built for their parts by a mutation (MATERIALIZE, asynchronous: the start
// does not wait; until it is done, parts without them are read as before, with the same
// answers).
//
//   - stream_key: the LogQL stream key (streamKeySQL) as a column, so that listing the
//     streams and reading some of them reads 8 bytes per record instead of hashing both
//     resource maps of every record (Streams took 1.6 s on 2M records). On a cluster the
//     Distributed table gets it too (it is read through it; inserts leave it out, as
//     any MATERIALIZED column).
//   - idx_body_tokens: the body token index of tokens.go (a rare token read every
//     granule).
//   - idx_ts: a minmax index on ts, which ClickHouse's top-N optimisation uses to skip
//     the granules that cannot hold one of the newest LIMIT rows (use_skip_indexes_for_top_k):
//     ORDER BY ts DESC LIMIT n does not follow the ordering key (service comes first), so
//     without it a common filter (http.status_code=503) read every granule.
//   - p_attr_keys: the attribute keys per day, which LogQL's label filter pushdown looks
//     up (attrKeys read every record's attribute map: 1.7 s on 2M records).
//   - p_counts: record counts per second, service and severity, which answer the severity
//     counts over time when the range and step are whole seconds (CountLogs).
var queryIndexes = []string{
	"ALTER TABLE {db}.logs{local}{on_cluster} ADD COLUMN IF NOT EXISTS stream_key UInt64 MATERIALIZED " + streamKeyExpr + " CODEC(ZSTD(1))",
	"{cluster_only}ALTER TABLE {db}.logs{on_cluster} ADD COLUMN IF NOT EXISTS stream_key UInt64 MATERIALIZED " + streamKeyExpr,
	"ALTER TABLE {db}.logs{local}{on_cluster} ADD INDEX IF NOT EXISTS idx_body_tokens " + bodyTokensSQL + " TYPE bloom_filter(0.01) GRANULARITY 1",
	"ALTER TABLE {db}.logs{local}{on_cluster} ADD INDEX IF NOT EXISTS idx_ts ts TYPE minmax GRANULARITY 1",
	"ALTER TABLE {db}.logs{local}{on_cluster} ADD PROJECTION IF NOT EXISTS p_attr_keys (SELECT tenant, toDate(ts), groupUniqArrayArray(mapKeys(attributes)) GROUP BY tenant, toDate(ts))",
	"ALTER TABLE {db}.logs{local}{on_cluster} ADD PROJECTION IF NOT EXISTS p_counts (SELECT tenant, service, toStartOfSecond(ts), severity_text, severity_number, count() GROUP BY tenant, service, toStartOfSecond(ts), severity_text, severity_number)",
	"ALTER TABLE {db}.logs{local}{on_cluster} MATERIALIZE COLUMN stream_key",
	"ALTER TABLE {db}.logs{local}{on_cluster} MATERIALIZE INDEX idx_body_tokens",
	"ALTER TABLE {db}.logs{local}{on_cluster} MATERIALIZE INDEX idx_ts",
	"ALTER TABLE {db}.logs{local}{on_cluster} MATERIALIZE PROJECTION p_attr_keys",
	"ALTER TABLE {db}.logs{local}{on_cluster} MATERIALIZE PROJECTION p_counts",
}
