package builtin

import (
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/dashboards"
	"github.com/loupe-dev/loupe/internal/query/logql"
)

var (
	varRE         = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)
)

// substitute replaces variables as a viewer would: the range ones by durations, the
// others by a plain value (valid in a matcher's string and in a regexp).
func substitute(q string) string {
	return varRE.ReplaceAllStringFunc(q, func(v string) string {
		switch strings.Trim(v, "${}") {
		case "__rate_interval", "__interval":
			return "1m"
		case "__range":
			return "1h"
		}
		return "x"
	})
}

// TestBuiltinsLoadAndParse provisions the built-in dashboards (valid, distinct uids) and
// parses every query of every panel and variable: PromQL with Prometheus' parser, LogQL
// with Loupe's.
func TestBuiltinsLoadAndParse(t *testing.T) {
	p := dashboards.NewProvisioner(FS, nil, nil)
	p.Load()
	require.Empty(t, p.Errors())
	list := p.List()
	var uids []string
	for _, d := range list {
		uids = append(uids, d.Dashboard.UID)
		require.Equal(t, dashboards.SourceBuiltin, d.Source)
	}
	require.ElementsMatch(t, []string{"loupe-self", "loupe-node", "loupe-red", "loupe-runs"}, uids)

	queries := 0
	for _, pd := range list {
		d := pd.Dashboard
		for _, v := range d.Templating.List {
			if v.Type != dashboards.VarQuery {
				continue
			}
			m := labelValuesRE.FindStringSubmatch(v.Query)
			require.NotNil(t, m, "%s: variable %s: want label_values(selector, label), got %s", d.UID, v.Name, v.Query)
			_, err := parser.ParseExpr(substitute(m[1]))
			require.NoError(t, err, "%s: variable %s: %s", d.UID, v.Name, v.Query)
			queries++
		}
		d.Walk(func(p *dashboards.Panel) {
			for i := range p.Targets {
				tg := &p.Targets[i]
				expr := substitute(tg.Expr)
				switch dashboards.TargetDatasource(p, tg) {
				case dashboards.DSPrometheus:
					_, err := parser.ParseExpr(expr)
					require.NoError(t, err, "%s: panel %q: PromQL %s", d.UID, p.Title, tg.Expr)
				case dashboards.DSLoki:
					_, err := logql.Parse(expr)
					require.NoError(t, err, "%s: panel %q: LogQL %s", d.UID, p.Title, tg.Expr)
				default:
					t.Fatalf("%s: panel %q: data source %s", d.UID, p.Title, dashboards.TargetDatasource(p, tg))
				}
				queries++
			}
		})
	}
	require.Greater(t, queries, 60)
}

// TestBuiltinsExport: each built-in exports to Grafana JSON and imports back unchanged.
func TestBuiltinsExport(t *testing.T) {
	p := dashboards.NewProvisioner(FS, nil, nil)
	p.Load()
	for _, pd := range p.List() {
		out, err := dashboards.ExportGrafana(pd.Dashboard)
		require.NoError(t, err)
		back, rep, err := dashboards.ImportGrafana(out)
		require.NoError(t, err)
		require.Zero(t, rep.Unsupported, "%s: %+v", pd.Dashboard.UID, rep.Items)
		want := pd.Dashboard
		want.Version = 0
		require.Equal(t, want, back, pd.Dashboard.UID)
	}
}
