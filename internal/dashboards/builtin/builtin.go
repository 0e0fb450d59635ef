// Package builtin holds the dashboards built into the binary (docs/dashboards.md,
// "Built-in dashboards"): Loupe itself, a node_exporter host, the RED view per service and
// batch-job runs. They are provisioned read-only at every start, so they change with the
// binary.
package builtin

import "embed"

// FS holds the built-in dashboards, one Loupe dashboard JSON file each.
//
//go:embed *.json
var FS embed.FS
