package chdashboards

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// The dashboards schema: one insert-only table of every saved version of every dashboard,
// and of deletions (tombstones). A dashboard's state is its row of highest seq.
//
//   - seq numbers the rows of one uid, from 1, and is never reused: deleting a dashboard
//     writes a tombstone row at the next seq, and creating it again starts a new
//     incarnation at the seq after. base is the seq of the incarnation's first save, so the
//     version the API shows is seq - base + 1 (1 on create, one more on every save).
//   - A save writes seq = head + 1 with insert_deduplication_token "<uid>/<seq>": of two
//     saves that read the same head and write the same seq, ClickHouse keeps the first
//     insert and drops the second as a duplicate (the check and the part's commit are one
//     step under the table's lock on a server, one Keeper transaction on a replicated
//     table). Each writer then reads the row at its seq back and compares the writer column
//     (a random token per save) with its own: exactly one finds its own, the others answer
//     ErrConflict. This is the compare-and-set that ClickHouse, without transactions, has.
//     Deduplication remembers the last N inserts of the table (the window set below): two
//     saves of one seq farther apart than that both land, and then the row of greatest
//     writer token is the one every reader takes (head, Versions): deterministic, but the
//     writer of the other row was told it succeeded. See docs/scale-out.md.
//   - ORDER BY (tenant, uid, seq): every read is by uid, the head is the last row of it.
//   - Not partitioned, no TTL: dashboards are few and kept until deleted. Versions beyond
//     dashboards.MaxVersions, and the rows before a tombstone, are removed with lightweight
//     DELETEs after a save (readers ignore them anyway, so a failed removal changes nothing).
//   - With a cluster the table is not sharded: every server holds a replica of all of it
//     (one Keeper path, as chsql's migrations table), because deduplication works within
//     one replicated table; no Distributed table is needed.
const dashboardsDDL = `CREATE TABLE IF NOT EXISTS {db}.dashboards{on_cluster} (
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
) ENGINE = {engine}
ORDER BY (tenant, uid, seq)
SETTINGS {dedup}`

// component is the name this package's migrations are recorded under.
const component = "dashboards"

// table is the table the store reads and writes, on a single server and on a cluster.
const table = "dashboards"

// dedupWindow is how many of the table's latest inserts deduplication remembers: saves
// are written by people, so two racing saves of one seq are never that far apart.
const dedupWindow = "1000"

// migrations returns the dashboards schema for schema.
func migrations(schema chsql.Schema) []chsql.Migration {
	engine, dedup := "MergeTree", "non_replicated_deduplication_window = "+dedupWindow
	if schema.Cluster != "" {
		engine = "ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')"
		dedup = "replicated_deduplication_window = " + dedupWindow + ", replicated_deduplication_window_seconds = 604800"
	}
	ddl := strings.NewReplacer("{engine}", engine, "{dedup}", dedup).Replace(dashboardsDDL)
	return []chsql.Migration{{Version: 1, Statements: []string{ddl}}}
}
