package chsql

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Schema carries what changes the DDL between deployments: the database, and the
// cluster when ClickHouse runs as one (empty for a single server, and for chDB).
//
// With a cluster, every table a store writes is a ReplicatedMergeTree table named
// <table>_local on each shard, created ON CLUSTER, and the store reads and writes through
// a Distributed table named <table> over them (see Distributed). Without one, <table> is
// the MergeTree table itself. Stores therefore always query <table>, and address
// <table>{local} only in DDL and partition operations.
type Schema struct {
	Database string
	Cluster  string
	// Follower is set on a node that is not the leader (storage.clickhouse.leader:
	// false): it leaves the migrations that must run once per database (LeaderOnly) to
	// the leader and waits for them.
	Follower bool
}

// Templates that Expand replaces in statements. Others in braces ({shard}, {replica},
// {database}, {table}) are left for the server: they are ClickHouse's own macros.
const (
	// tmplDB is the quoted database name.
	tmplDB = "{db}"
	// tmplOnCluster is "" or " ON CLUSTER `name`".
	tmplOnCluster = "{on_cluster}"
	// tmplLocal is the suffix of the tables that hold the data: "" or "_local".
	tmplLocal = "{local}"
	// tmplMergeTree is the engine: MergeTree, or ReplicatedMergeTree with a cluster.
	tmplMergeTree = "{MergeTree}"
	// tmplClusterOnly starts a statement that exists only with a cluster (Distributed).
	tmplClusterOnly = "{cluster_only}"
	// tmplCluster is the cluster name as a string literal (in Distributed's arguments).
	tmplCluster = "{cluster}"
	// tmplDBLiteral is the database name as a string literal.
	tmplDBLiteral = "{db_literal}"
)

// LocalSuffix is the suffix of the tables that hold the data on each shard.
const LocalSuffix = "_local"

// Local returns the name of the table that holds table's data: table itself on a single
// server, table_local on each shard of a cluster.
func (s Schema) Local(table string) string {
	if s.Cluster == "" {
		return table
	}
	return table + LocalSuffix
}

// From is the FROM target of queries on table: {db}.table, which is the Distributed table
// over every shard's local one with a cluster. table is a plain name (not quoted).
func (s Schema) From(table string) string { return Ident(s.Database) + "." + table }

// Engine is the table engine kind (MergeTree, ReplacingMergeTree, AggregatingMergeTree,
// ...) with its arguments args (may be empty), or with a cluster its Replicated variant,
// whose Keeper path comes first: {shard} and {replica} are the server's macros
// (config.xml), {database} and {table} are filled in by the server, so each table has its
// own path.
func (s Schema) Engine(kind, args string) string {
	if s.Cluster == "" {
		if args == "" {
			return kind
		}
		return kind + "(" + args + ")"
	}
	replicated := "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
	if args != "" {
		replicated += ", " + args
	}
	return "Replicated" + kind + "(" + replicated + ")"
}

// Expand replaces the templates of a statement for this schema. A statement starting with
// {cluster_only} expands to "" without a cluster.
func (s Schema) Expand(stmt string) string {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(stmt), tmplClusterOnly); ok {
		if s.Cluster == "" {
			return ""
		}
		stmt = rest
	}
	onCluster, local := "", ""
	if s.Cluster != "" {
		onCluster = " ON CLUSTER " + Ident(s.Cluster)
		local = LocalSuffix
	}
	return strings.NewReplacer(
		tmplDB, Ident(s.Database),
		tmplOnCluster, onCluster,
		tmplLocal, local,
		tmplMergeTree, s.Engine("MergeTree", ""),
		tmplCluster, String(s.Cluster),
		tmplDBLiteral, String(s.Database),
	).Replace(stmt)
}

// Distributed returns the statement template that creates, with a cluster only, the
// Distributed table <table> over <table>_local, sharding rows by shardKey (an expression
// over the table's columns; rand() spreads rows evenly).
func Distributed(table, shardKey string) string {
	return tmplClusterOnly + "CREATE TABLE IF NOT EXISTS {db}." + Ident(table) + "{on_cluster} AS {db}." + Ident(table+LocalSuffix) +
		" ENGINE = Distributed({cluster}, {db_literal}, " + String(table+LocalSuffix) + ", " + shardKey + ")"
}

// Migration is one version of a component's schema. Statements are templates for
// Schema.Expand, run in order. They must be idempotent (IF NOT EXISTS, ADD COLUMN IF NOT
// EXISTS, ...): a migration interrupted half-way runs again whole at the next start, and
// several Loupe nodes starting at once may run the same migration.
type Migration struct {
	Version    int
	Statements []string
	// LeaderOnly marks a migration whose statements must not run twice at once, such as
	// a copy of a table's rows (two nodes starting together would store them twice). A
	// Follower does not run it: it waits until the leader has recorded the version.
	LeaderOnly bool
}

// followerPoll is how often a Follower reads the applied versions while it waits for the
// leader, and followerLogEvery how often it says so.
const (
	followerPoll     = time.Second
	followerLogEvery = 30 * time.Second
)

// MigrationsTable records the applied versions of every component.
const MigrationsTable = "loupe_schema_migrations"

var componentName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Migrate creates the database if needed and applies the migrations of component that are
// not recorded in loupe_schema_migrations, in version order, recording each once its
// statements succeeded. Versions must be positive and distinct. A Follower waits for
// the leader to apply the LeaderOnly migrations (until ctx ends), logging to logger (nil:
// no log) while it waits.
func Migrate(ctx context.Context, c Conn, s Schema, component string, ms []Migration, logger *slog.Logger) error {
	if !componentName.MatchString(component) {
		return fmt.Errorf("migrate: bad component name %q", component)
	}
	if s.Database == "" {
		return fmt.Errorf("migrate %s: no database", component)
	}
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version <= 0 || i > 0 && ms[i-1].Version == m.Version {
			return fmt.Errorf("migrate %s: bad or repeated version %d", component, m.Version)
		}
	}
	for _, stmt := range bootstrapStatements {
		if err := c.Exec(ctx, s.expandBootstrap(stmt)); err != nil {
			return fmt.Errorf("migrate %s: %w", component, err)
		}
	}
	applied, err := appliedVersions(ctx, c, s, component)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if m.LeaderOnly && s.Follower {
			// The leader may have applied later versions meanwhile: read them again.
			if applied, err = waitForLeader(ctx, c, s, component, m.Version, logger); err != nil {
				return fmt.Errorf("migrate %s: %w", component, err)
			}
			continue
		}
		for i, stmt := range m.Statements {
			q := s.Expand(stmt)
			if strings.TrimSpace(q) == "" {
				continue
			}
			if err := c.Exec(ctx, q); err != nil {
				return fmt.Errorf("migrate %s to version %d, statement %d: %w", component, m.Version, i+1, err)
			}
		}
		err := c.Insert(ctx, s.Database+"."+MigrationsTable, []string{"component", "version", "applied_at"},
			[][]any{{component, uint32(m.Version), time.Now()}})
		if err != nil {
			return fmt.Errorf("migrate %s: record version %d: %w", component, m.Version, err)
		}
	}
	return nil
}

// waitForLeader returns the applied versions of component once the leader has recorded
// version.
func waitForLeader(ctx context.Context, c Conn, s Schema, component string, version int, logger *slog.Logger) (map[int]bool, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	lastLog := start
	logger.Info("waiting for the leader to migrate the schema (this node has storage.clickhouse.leader: false)",
		"component", component, "version", version)
	t := time.NewTicker(followerPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the leader (storage.clickhouse.leader: true) to apply version %d: %w", version, ctx.Err())
		case <-t.C:
		}
		applied, err := appliedVersions(ctx, c, s, component)
		if err != nil {
			return nil, err
		}
		if applied[version] {
			logger.Info("the leader migrated the schema", "component", component, "version", version,
				"waited", time.Since(start).Round(time.Second))
			return applied, nil
		}
		if time.Since(lastLog) >= followerLogEvery {
			lastLog = time.Now()
			logger.Warn("still waiting for the leader to migrate the schema: start the node with storage.clickhouse.leader: true",
				"component", component, "version", version, "waited", time.Since(start).Round(time.Second))
		}
	}
}

// bootstrapStatements create the database and the migrations table. With a cluster the
// table is replicated to every server under one path, so that every node sees every
// version whichever shard it asks.
var bootstrapStatements = []string{
	"CREATE DATABASE IF NOT EXISTS {db}{on_cluster}",
	"CREATE TABLE IF NOT EXISTS {db}." + MigrationsTable + "{on_cluster} (" +
		"component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')" +
		") ENGINE = {MergeTree} ORDER BY (component, version)",
}

// expandBootstrap expands a bootstrap statement. With a cluster the migrations table is
// not sharded: every server is a replica of one table (one Keeper path for all shards).
func (s Schema) expandBootstrap(stmt string) string {
	q := s.Expand(stmt)
	if s.Cluster != "" {
		q = strings.Replace(q, "/clickhouse/tables/{shard}/", "/clickhouse/tables/all/", 1)
	}
	return q
}

func appliedVersions(ctx context.Context, c Conn, s Schema, component string) (map[int]bool, error) {
	rows, err := c.Query(ctx, "SELECT DISTINCT version FROM "+Ident(s.Database)+"."+MigrationsTable+
		" WHERE component = "+String(component))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[int(v)] = true
	}
	return applied, rows.Err()
}

// ExpandAll expands every statement of ms as Migrate would run them for component, the
// bootstrap statements first: the DDL a deployment gets, for golden tests and review.
func ExpandAll(s Schema, component string, ms []Migration) string {
	var b strings.Builder
	for _, stmt := range bootstrapStatements {
		b.WriteString(s.expandBootstrap(stmt) + ";\n\n")
	}
	for _, m := range ms {
		b.WriteString("-- " + component + " version " + strconv.Itoa(m.Version) + "\n")
		for _, stmt := range m.Statements {
			if q := s.Expand(stmt); strings.TrimSpace(q) != "" {
				b.WriteString(strings.TrimSpace(q) + ";\n\n")
			}
		}
	}
	return b.String()
}
