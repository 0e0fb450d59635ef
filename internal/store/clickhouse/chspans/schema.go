package chspans

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// The span schema. Three tables, all partitioned by day of the span start so that
// retention drops whole partitions of each (DropBefore) and TTL can expire them:
//
//   - spans: one row per span, ordered by (tenant, service, start), the key of trace
//     search and RED queries, which always name a time range and usually a service.
//     Attributes and resource attributes are Map(LowCardinality(String), String) of each
//     value's string form (chattrs) with bloom_filter skip indexes on keys and values,
//     so an attribute filter reads only the granules that may hold the value. The maps
//     are filled from EPHEMERAL key and value arrays: Conn.Insert takes a Go map, which
//     has no order, and OTLP attributes must come back in the order they were written.
//
//   - span_traces: trace id -> the range of span starts, per day, filled by a
//     materialized view on every insert into spans (so any writer, including a bulk copy,
//     keeps it right). GetTrace reads it first, by primary key, then reads spans only in
//     that time range: the day partitions outside it are pruned and, inside, the
//     (service, start) key narrows each service to the few granules of that range, where
//     the bloom_filter index on trace_id skips the granules without the trace. A
//     bloom_filter index alone would still have to probe the filter of every granule of
//     every day for each lookup (reading a few bytes per granule of all spans ever kept),
//     and ordering spans by trace id instead would make every search by service and time
//     scan everything. Jaeger's ClickHouse plugin and SigNoz keep the same kind of table.
//
//   - span_names: the (day, service, span name) catalog behind Services and SpanNames,
//     filled by a materialized view too: a few rows per day instead of a DISTINCT over
//     every span.
//
// spans has granules of 1,024 rows instead of 8,192: a trace lookup decompresses every
// column of each granule it reads (the attribute maps and events most of all), and reads
// a few granules however small the trace. BenchmarkGetTrace (500k spans, chDB, a loaded
// machine) went from 59 to 39 ms of CPU per lookup. The primary index grows to one mark
// per 1,024 spans, ~1 MB of memory per billion spans and key column byte.
//
// tenant is first in every key with default '' (issue 12 adds tenants later without a
// table rewrite); every query filters on it.

// component is the name this package's migrations are recorded under.
const component = "spans"

// migrations returns the span schema's migrations for schema. Statements are chsql
// templates ({db}, {on_cluster}, {local}, {MergeTree}); the engines of span_traces and
// span_names are written here because chsql's templates have only MergeTree's.
//
// With a cluster, each table is <name>_local on every shard with a Distributed <name>
// over it (chsql.Schema). Spans are sharded by trace id, so that a trace lives on one
// shard; the materialized views read spans_local and write span_traces_local and
// span_names_local on the same shard, so the trace index is sharded with its spans.
func migrations(schema chsql.Schema) []chsql.Migration {
	return []chsql.Migration{{Version: 1, Statements: []string{
		spansDDL,
		chsql.Distributed("spans", "cityHash64(trace_id)"),
		strings.Replace(spanTracesDDL, "{engine}", schema.Engine("AggregatingMergeTree", ""), 1),
		chsql.Distributed("span_traces", "cityHash64(trace_id)"),
		spanTracesMV,
		strings.Replace(spanNamesDDL, "{engine}", schema.Engine("ReplacingMergeTree", ""), 1),
		chsql.Distributed("span_names", "rand()"),
		spanNamesMV,
	}}, {Version: 2, Statements: []string{spansSmallBlocks}}}
}

// spansSmallBlocks (migration 2) makes the compressed blocks of spans 4 KiB to 64 KiB
// instead of 64 KiB to 1 MiB. A trace lookup reads the ~3 granules that hold its spans
// (one per service) in each of its 26 columns, and for each decompresses the whole block
// holding the granule: with 64 KiB at least, a column of 1 to 8 bytes a span decompressed
// 8 to 64 granules to read one (6.2 MB decompressed for 14 spans on the harness's 2M
// spans). With these sizes the spans query took 12-16 ms of CPU instead of 21-25 on a
// merged copy of that data, for 3% more disk (docs/performance.md, 2026-12-07 20:41-22:05).
// Scans read the same bytes in more, smaller blocks: RED and trace search took the same CPU.
//
// Parts written before the migration keep their blocks until a merge rewrites them (new
// inserts, and every merge from then on, use the new sizes): nothing is rewritten at start.
const spansSmallBlocks = `ALTER TABLE {db}.spans{local}{on_cluster} MODIFY SETTING min_compress_block_size = 4096, max_compress_block_size = 65536`

// tables are the day-partitioned tables, in the order DropBefore drops a day from them:
// span_names last, as it is what DropBefore reads to find the days.
var tables = []string{"spans", "span_traces", "span_names"}

const spansDDL = `CREATE TABLE IF NOT EXISTS {db}.spans{local}{on_cluster} (
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
) ENGINE = {MergeTree}
PARTITION BY toDate(start)
ORDER BY (tenant, service, start)
SETTINGS index_granularity = 1024`

const spanTracesDDL = `CREATE TABLE IF NOT EXISTS {db}.span_traces{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	trace_id String CODEC(ZSTD(1)),
	day Date,
	start_min SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
	start_max SimpleAggregateFunction(max, DateTime64(9, 'UTC'))
) ENGINE = {engine}
PARTITION BY day
ORDER BY (tenant, trace_id, day)`

const spanTracesMV = `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.span_traces_mv{on_cluster} TO {db}.span_traces{local} AS
SELECT tenant, trace_id, toDate(start) AS day, min(start) AS start_min, max(start) AS start_max
FROM {db}.spans{local} GROUP BY tenant, trace_id, day`

const spanNamesDDL = `CREATE TABLE IF NOT EXISTS {db}.span_names{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	day Date,
	service LowCardinality(String),
	name LowCardinality(String)
) ENGINE = {engine}
PARTITION BY day
ORDER BY (tenant, service, name, day)`

const spanNamesMV = `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.span_names_mv{on_cluster} TO {db}.span_names{local} AS
SELECT tenant, toDate(start) AS day, service, name
FROM {db}.spans{local} GROUP BY tenant, day, service, name`
