package cherrors

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// The error tracking schema: events are the only thing written in bulk; everything an
// issue shows is derived from them by ClickHouse, except its status, which users (and the
// lifecycle rules) change.
//
//   - error_events: one row per event, ReplacingMergeTree ordered by (tenant, issue_id,
//     ts_ns, event_id): an issue's events are contiguous and in time order (the event
//     pages, the series and the tag distributions read one issue's range). The whole
//     event is its JSON (after scrubbing) with ZSTD; the summary columns are what the
//     queries and the views read. Bloom filters on event_id (dedup look-ups, GetEvent)
//     and trace_id (TraceEvents). Partitioned by the day of the event, for retention.
//     Dedup: WriteEvents skips ids already stored; two writers racing with one id (two
//     nodes taking the same retry at once) both insert it, and the replacing merge keeps
//     one; reads of events take one row per id (LIMIT 1 BY / uniqExact) meanwhile.
//   - error_issue_stats: the counters of each issue, an AggregatingMergeTree fed by a
//     materialized view of error_events. Why not count from the events at each list: the
//     list over 1M events in 10k issues would scan and group 1M rows (users, releases,
//     environments, first/last) at every page; the view folds each inserted block into one
//     row per issue, merges fold parts, so the list reads about one row per issue and
//     part (10k rows after merges). Why not a row per issue updated by the writer (as the
//     embedded store does): two nodes updating one issue at once would lose one's counts;
//     aggregate states only add up, whatever the order and the node. The counters are not
//     touched when events pass retention (they count since first seen, as Sentry's do).
//   - error_issue_state: status changes, insert-only rows with a version (write time),
//     read with argMax by version; no row means unresolved.
//   - error_releases: when each release was first seen per project (or service), a view
//     of error_events with min(): for comparing releases that are not semantic versions
//     (errtrack.ReleaseNewer).
//
// Times are Int64 nanoseconds (an event's client time may be any time). tenant leads
// every key, empty today (issue 12).
const eventsDDL = `CREATE TABLE IF NOT EXISTS {db}.error_events{local}{on_cluster} (
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
) ENGINE = {engine_events}
PARTITION BY toYYYYMMDD(fromUnixTimestamp64Nano(ts_ns, 'UTC'))
ORDER BY (tenant, issue_id, ts_ns, event_id)
SETTINGS {dedup}, ttl_only_drop_parts = 1`

// statsDDL: first is the identity of the issue as its earliest event gave it; last is the
// latest event's id, release and level (argMax by time then id, so ties are the same on
// every read); the If variants leave out events without a release, level or user.
const statsDDL = `CREATE TABLE IF NOT EXISTS {db}.error_issue_stats{local}{on_cluster} (
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
) ENGINE = {engine_stats}
ORDER BY (tenant, issue_id)
SETTINGS {dedup}`

const statsMV = `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.error_issue_stats_mv{local}{on_cluster}
TO {db}.error_issue_stats{local} AS SELECT
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
FROM {db}.error_events{local} GROUP BY tenant, issue_id`

const stateDDL = `CREATE TABLE IF NOT EXISTS {db}.error_issue_state{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	issue_id String,
	version UInt64,
	status LowCardinality(String),
	resolved_in_release String,
	ignore_until_ns Int64,
	ignore_count Int64
) ENGINE = {engine_state}
ORDER BY (tenant, issue_id)`

const releasesDDL = `CREATE TABLE IF NOT EXISTS {db}.error_releases{local}{on_cluster} (
	tenant LowCardinality(String) DEFAULT '',
	scope String,
	release String,
	first_seen SimpleAggregateFunction(min, Int64)
) ENGINE = {engine_releases}
ORDER BY (tenant, scope, release)
SETTINGS {dedup}`

const releasesMV = `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.error_releases_mv{local}{on_cluster}
TO {db}.error_releases{local} AS SELECT
	tenant, if(project != '', concat('project:', project), concat('service:', service)) AS scope,
	toString(release) AS release, min(ts_ns) AS first_seen
FROM {db}.error_events{local} WHERE release != '' GROUP BY tenant, scope, release`

// component is the name this package's migrations are recorded under.
const component = "errors"

// Tables the store reads and writes (Distributed with a cluster).
const (
	eventsTable   = "error_events"
	statsTable    = "error_issue_stats"
	stateTable    = "error_issue_state"
	releasesTable = "error_releases"
)

// migrations returns the errors schema for schema. With a cluster, events, stats and
// states are sharded by issue id, so that an issue's rows meet on one shard (the views
// run on the shard that receives the events, into its local tables); releases end up on
// the shards of the issues that carried them, and min() over the Distributed table reads
// them all.
func migrations(schema chsql.Schema) []chsql.Migration {
	r := strings.NewReplacer(
		"{engine_events}", schema.Engine("ReplacingMergeTree", ""),
		"{engine_stats}", schema.Engine("AggregatingMergeTree", ""),
		"{engine_state}", schema.Engine("ReplacingMergeTree", "version"),
		"{engine_releases}", schema.Engine("AggregatingMergeTree", ""),
		"{dedup}", dedup(schema),
	)
	return []chsql.Migration{{Version: 1, Statements: []string{
		r.Replace(eventsDDL), r.Replace(statsDDL), r.Replace(stateDDL), r.Replace(releasesDDL),
		statsMV, releasesMV,
		chsql.Distributed(eventsTable, "cityHash64(issue_id)"),
		chsql.Distributed(statsTable, "cityHash64(issue_id)"),
		chsql.Distributed(stateTable, "cityHash64(issue_id)"),
		chsql.Distributed(releasesTable, "cityHash64(scope)"),
	}}}
}

// dedupWindow is how many of a table's latest inserts deduplication remembers
// (insertEvents' tokens). Replicated tables deduplicate by default; a single server's
// MergeTree only with non_replicated_deduplication_window.
const dedupWindow = "1000"

func dedup(schema chsql.Schema) string {
	if schema.Cluster == "" {
		return "non_replicated_deduplication_window = " + dedupWindow
	}
	return "replicated_deduplication_window = " + dedupWindow
}
