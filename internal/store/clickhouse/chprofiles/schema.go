package chprofiles

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// The profiles schema: four tables, each partitioned by UTC day of profile time so that
// retention (DropBefore, TTL) drops whole days of every table together.
//
//   - profile_samples (MergeTree): one row per distinct (stack, span) of a profile, with
//     the profile's type, series and time repeated on each row, ORDER BY (tenant, type,
//     series_id, ts, stack_id): a flame graph of one type and a few series over a time
//     range reads a contiguous range of the key, and the repeated columns compress to
//     almost nothing (LowCardinality type, DoubleDelta times, sorted series ids).
//     stack_id is the 64-bit hash of the stack's content, so the same stack has the same
//     id in every profile, day and node: the merge (sum of values per stack) is a GROUP BY
//     stack_id in SQL, with no join needed to merge. span_id is 0 when the sample has no
//     span; a bloom_filter index serves the "profile of this span" lookups.
//   - profile_stacks (ReplacingMergeTree): each stack once per day, frames an array of
//     function ids, leaf first, ORDER BY (tenant, stack_id). Content-hashed rows are
//     written by any writer that has not yet written them that day (a cache per process),
//     so two nodes, or a node after a restart, write the same row again: the duplicates
//     are the same content, merges collapse them, and reads never depend on merges having
//     happened (they GROUP BY stack_id and take any(frames)).
//   - profile_functions (ReplacingMergeTree): each (function, file) once per day, id the
//     hash of its content, ORDER BY (tenant, function_id); read the same way.
//   - profiles (MergeTree): one row per profile (type, series, time, duration, period and
//     the series labels as a Map), ORDER BY (tenant, type, series_id, ts): type and label
//     listings and the label matchers read it instead of the samples, and the labels are
//     stored once per profile, not per sample (ZSTD makes the repeats nearly free).
//
// Stacks and functions are per day, not global, so that a day dropped by retention takes
// the stacks only its samples used with it: no garbage collection of unreferenced stacks
// is needed. Their TTL is a day longer than the samples' (the last samples of a day
// expire a day after its first).
//
// Times are Int64 nanoseconds since 1970 (profiles are accepted from 1970 to 2261), days
// in stacks and functions the nanosecond of the day's start (day_ns), so that every
// table's partition key is the same expression (partitionKey).
const samplesDDL = `CREATE TABLE IF NOT EXISTS {db}.profile_samples{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	type LowCardinality(String),
	series_id UInt64,
	ts Int64 CODEC(DoubleDelta, ZSTD(1)),
	stack_id UInt64 CODEC(ZSTD(1)),
	value Int64 CODEC(T64, ZSTD(1)),
	span_id UInt64 CODEC(ZSTD(1)),
	span_name LowCardinality(String) CODEC(ZSTD(1)),
	INDEX span_idx span_id TYPE bloom_filter(0.01) GRANULARITY 4
) ENGINE = {MergeTree}
PARTITION BY {partition_ts}
ORDER BY (tenant, type, series_id, ts, stack_id)`

const profilesDDL = `CREATE TABLE IF NOT EXISTS {db}.profiles{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	type LowCardinality(String),
	series_id UInt64,
	ts Int64 CODEC(DoubleDelta, ZSTD(1)),
	duration_ns Int64 CODEC(ZSTD(1)),
	period Int64 CODEC(ZSTD(1)),
	labels Map(LowCardinality(String), String) CODEC(ZSTD(1))
) ENGINE = {MergeTree}
PARTITION BY {partition_ts}
ORDER BY (tenant, type, series_id, ts)`

const stacksDDL = `CREATE TABLE IF NOT EXISTS {db}.profile_stacks{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	day_ns Int64,
	stack_id UInt64,
	frames Array(UInt64) CODEC(ZSTD(1))
) ENGINE = {ReplacingMergeTree}
PARTITION BY {partition_day}
ORDER BY (tenant, stack_id)`

const functionsDDL = `CREATE TABLE IF NOT EXISTS {db}.profile_functions{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	day_ns Int64,
	function_id UInt64,
	name String CODEC(ZSTD(1)),
	file String CODEC(ZSTD(1))
) ENGINE = {ReplacingMergeTree}
PARTITION BY {partition_day}
ORDER BY (tenant, function_id)`

// Table names; with a cluster the Distributed tables, over <name>_local.
const (
	samplesTable   = "profile_samples"
	profilesTable  = "profiles"
	stacksTable    = "profile_stacks"
	functionsTable = "profile_functions"
)

// tables lists every table with its time column, samples first (DropBefore drops them
// before the stacks they use).
var tables = []struct{ name, timeCol string }{
	{samplesTable, "ts"}, {profilesTable, "ts"}, {stacksTable, "day_ns"}, {functionsTable, "day_ns"},
}

// partitionKey is the UTC day of a nanosecond column, as a number (20261120).
func partitionKey(col string) string {
	return "toYYYYMMDD(fromUnixTimestamp64Nano(" + col + ", 'UTC'))"
}

// component is the name this package's migrations are recorded under.
const component = "profiles"

// migrations returns the profiles schema for schema. With a cluster, samples and
// profiles are sharded by series (a series' profiles and samples on one shard), stacks
// and functions by their id, so that each content-hashed row has one shard and its
// duplicates meet there to be merged.
func migrations(schema chsql.Schema) []chsql.Migration {
	r := strings.NewReplacer(
		"{ReplacingMergeTree}", schema.Engine("ReplacingMergeTree", ""),
		"{partition_ts}", partitionKey("ts"),
		"{partition_day}", partitionKey("day_ns"),
	)
	return []chsql.Migration{{Version: 1, Statements: []string{
		r.Replace(samplesDDL),
		chsql.Distributed(samplesTable, "series_id"),
		r.Replace(profilesDDL),
		chsql.Distributed(profilesTable, "series_id"),
		r.Replace(stacksDDL),
		chsql.Distributed(stacksTable, "stack_id"),
		r.Replace(functionsDDL),
		chsql.Distributed(functionsTable, "function_id"),
	}}}
}
