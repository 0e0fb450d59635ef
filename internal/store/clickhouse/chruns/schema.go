package chruns

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// The runs schema: one table, runs, holding every record ever upserted of every run, of
// which readers take one per run, the winner.
//
//   - ReplacingMergeTree(version), ORDER BY (tenant, run_id): one row per run once parts
//     are merged. version encodes the upsert rule in one number (versionOf): the top bit
//     is set for a final record, the rest is the time of the write (nanoseconds, strictly
//     increasing within a process). So a final record beats a running one whatever the
//     order they came in, and between two of one kind the later write wins, and merges
//     keep exactly the row readers pick.
//   - Reads never rely on merges having happened (they are asynchronous: right after an
//     upsert both records are there). Every read aggregates with argMax(..., version) per
//     run and filters the winners (read.go), rather than SELECT ... FINAL: with FINAL, a
//     WHERE on a column that is not in the sorting key can be applied before the rows of
//     a run are collapsed (depending on version and settings), and a filter on status
//     would then find a run by its losing record. argMax states the rule in the query.
//   - PARTITION BY the day of the run's start, so that retention (DropBefore, TTL) drops
//     whole days. The records of one run carry the same start time (the SDK writes it in
//     both), so they meet in one partition and merges collapse them; if they did not,
//     reads are still right (argMax sees every partition) but the run keeps two rows.
//   - Times are Int64 nanoseconds, as in the embedded store: a record may hold any time
//     since 1677, and DateTime64(9) starts in 1900. end_ns is 0 while running.
//   - tenant first in the key, empty by default (issue 12 adds tenants without a rewrite).
const runsDDL = `CREATE TABLE IF NOT EXISTS {db}.runs{local}{on_cluster} (
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
) ENGINE = {engine}
PARTITION BY {partition}
ORDER BY (tenant, run_id)`

// partitionKey is the day of a run's start, as a number (20261120).
const partitionKey = "toYYYYMMDD(fromUnixTimestamp64Nano(start_ns, 'UTC'))"

// component is the name this package's migrations are recorded under.
const component = "runs"

// table is the table the store reads and writes (Distributed with a cluster).
const table = "runs"

// migrations returns the runs schema for schema. With a cluster, runs are sharded by run
// id: the records of one run must land on one shard for ReplacingMergeTree to collapse
// them (reads are right either way, since argMax runs over the Distributed table).
func migrations(schema chsql.Schema) []chsql.Migration {
	return []chsql.Migration{{Version: 1, Statements: []string{
		strings.NewReplacer("{engine}", schema.Engine("ReplacingMergeTree", "version"), "{partition}", partitionKey).Replace(runsDDL),
		chsql.Distributed(table, "cityHash64(run_id)"),
	}}, {Version: 2, Statements: []string{
		// runs.Summary.LostAfter in nanoseconds, 0 when the run is never lost (a final
		// record, or a running one without a heartbeat period). The Distributed table's
		// columns are its own, so it gets the column too.
		"ALTER TABLE {db}.runs{local}{on_cluster} ADD COLUMN IF NOT EXISTS lost_after_ns Int64 DEFAULT 0",
		"{cluster_only}ALTER TABLE {db}.runs{on_cluster} ADD COLUMN IF NOT EXISTS lost_after_ns Int64 DEFAULT 0",
	}}}
}
