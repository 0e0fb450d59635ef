package dashboards

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// cephDashboards is where Debian's ceph-grafana-dashboards package puts the Ceph project's
// Grafana dashboards: 13 real community dashboards (schema 16, Grafana 6/7 panels: graph,
// singlestat, table, heatmap, plugin panels), over Prometheus, with query variables.
// scripts/test-deps.sh installs the package.
const cephDashboards = "/etc/grafana/dashboards/ceph-dashboard"

// TestImportCephDashboards imports every one of them: each gives a valid dashboard with a
// panel for every Grafana panel, every unsupported item of the report names a path that exists in the
// Grafana JSON, and export -> import gives the same dashboard back with nothing unsupported.
func TestImportCephDashboards(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(cephDashboards, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no dashboards in %s: install the Debian package ceph-grafana-dashboards (make test-deps)", cephDashboards)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var g map[string]any
			require.NoError(t, json.Unmarshal(raw, &g))

			d, rep, err := ImportGrafana(raw)
			require.NoError(t, err)
			require.NoError(t, Validate(&d))
			require.Equal(t, countGrafanaPanels(g["panels"]), rep.Panels, "a Loupe panel for every Grafana panel")
			for _, it := range rep.Items {
				if it.Kind != Unsupported { // a conversion may name what is missing ("no uid")
					continue
				}
				scope := g
				if it.PanelID != 0 {
					scope = findGrafanaPanel(g["panels"], it.PanelID)
					require.NotNil(t, scope, "report item of a panel that does not exist: %+v", it)
				}
				require.True(t, hasPath(scope, it.Path), "report item at a path the Grafana JSON does not have: %+v", it)
			}

			out, err := ExportGrafana(d)
			require.NoError(t, err)
			d2, rep2, err := ImportGrafana(out)
			require.NoError(t, err)
			require.Equal(t, d, d2)
			require.Zero(t, rep2.Unsupported, "an export holds nothing Loupe does not support: %+v", rep2.Items)
		})
	}
}

func countGrafanaPanels(v any) int {
	n := 0
	for _, p := range toList(v) {
		n += 1 + countGrafanaPanels(obj(p)["panels"])
	}
	return n
}

func findGrafanaPanel(v any, id int) map[string]any {
	for _, p := range toList(v) {
		if toInt(obj(p)["id"]) == id {
			return obj(p)
		}
		if q := findGrafanaPanel(obj(p)["panels"], id); q != nil {
			return q
		}
	}
	return nil
}

// hasPath reports whether path ("targets[0].expr", "styles") names a value of m; "" is m.
func hasPath(m map[string]any, path string) bool {
	var cur any = m
	for path != "" {
		var key string
		idx := -1
		key, path = cutPathStep(path)
		if i := len(key) - 1; i > 0 && key[i] == ']' {
			for j := i; j >= 0; j-- {
				if key[j] == '[' {
					n := 0
					for _, c := range key[j+1 : i] {
						n = n*10 + int(c-'0')
					}
					idx, key = n, key[:j]
					break
				}
			}
		}
		v, ok := obj(cur)[key]
		if !ok {
			return false
		}
		if idx >= 0 {
			l := toList(v)
			if idx >= len(l) {
				return false
			}
			v = l[idx]
		}
		cur = v
	}
	return true
}

func cutPathStep(path string) (step, rest string) {
	for i, c := range path {
		if c == '.' {
			return path[:i], path[i+1:]
		}
	}
	return path, ""
}
