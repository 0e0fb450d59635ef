package duck

// Column choices (see DESIGN.md "Storage"): timestamps are BIGINT nanoseconds (a span's
// end is start_ns + duration_ns, not stored: ~6 B/span); trace and
// span ids are BIGINTs (the trace id split in two halves), fixed width and NULL when
// absent, which compare faster and store smaller than BLOB or hex text; low-cardinality
// strings are plain VARCHAR, which DuckDB dictionary-compresses; record attributes are
// split into keys and values (attrcols.go); resources, scope attributes, events and links
// are JSON text in the typed encoding of attrs.go. Log records and spans refer to their
// resource and scope by id (log_resources.go, span_resources.go).
//
// {zstd} marks the long, high-cardinality text columns (bodies, attribute values; not
// span events, see spansSchema).
// In files of storage version 1.2 or later it becomes USING COMPRESSION zstd: on the
// harness's 2M log records, body and attr_vals took 49 instead of 67 B per record with
// DuckDB's own choice (FSST/dictionary), and a needle search over body was no slower. In
// older files DuckDB would store such a column uncompressed, so there it is left out
// (partitions.go). It applies to partitions created from now on.

var logsSchema = tableSchema{
	prefix: "logs",
	columns: `
		ts BIGINT NOT NULL,
		observed_ts BIGINT NOT NULL,
		service VARCHAR NOT NULL,
		severity_number TINYINT NOT NULL,
		severity_text VARCHAR NOT NULL,
		body VARCHAR {zstd} NOT NULL,
		trace_hi BIGINT,
		trace_lo BIGINT,
		span_id BIGINT,
		flags UINTEGER NOT NULL,
		attr_keys VARCHAR NOT NULL,
		attr_vals VARCHAR {zstd} NOT NULL,
		res_id BIGINT NOT NULL`,
}

// Span events are not {zstd}: only about one span in ten has any, and DuckDB's zstd for
// text writes each row group's compressed strings to whole blocks of their own, so on the
// harness's 500k spans events took 6.5 B per span with zstd and 3.9 with DuckDB's own
// choice (DICT_FSST). Partitions created before keep zstd; reading does not care.
var spansSchema = tableSchema{
	prefix: "spans",
	columns: `
		trace_hi BIGINT NOT NULL,
		trace_lo BIGINT NOT NULL,
		span_id BIGINT NOT NULL,
		parent_span_id BIGINT,
		trace_state VARCHAR NOT NULL,
		flags UINTEGER NOT NULL,
		name VARCHAR NOT NULL,
		kind TINYINT NOT NULL,
		start_ns BIGINT NOT NULL,
		duration_ns BIGINT NOT NULL,
		status_code TINYINT NOT NULL,
		status_message VARCHAR NOT NULL,
		service VARCHAR NOT NULL,
		attr_keys VARCHAR NOT NULL,
		attr_vals VARCHAR {zstd} NOT NULL,
		events VARCHAR,
		links VARCHAR,
		dropped_attributes UINTEGER NOT NULL,
		dropped_events UINTEGER NOT NULL,
		dropped_links UINTEGER NOT NULL,
		res_id BIGINT NOT NULL`,
}

// Spans have no ART index: trace lookups use the trace id block index (trace_filter.go).
// The ART index on trace_hi that served them before cost ~12 B per span in the index and
// ~20 more in blocks freed by rewriting it at every checkpoint (97 -> 69 B/span on the
// harness's 500k spans). Partitions created with it keep it, and DuckDB still uses it
// for their days until they have block filters.

// catalogDDL creates the small tables kept beside the partitions. span_names is written at
// ingest time (one row per day, service and span name) so that Services and SpanNames do
// not scan spans; retention prunes it by day.
const catalogDDL = `
CREATE TABLE IF NOT EXISTS span_names (
	day INTEGER NOT NULL,
	service VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	PRIMARY KEY (day, service, name)
)`
