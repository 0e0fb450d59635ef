package dashboards

import (
	"os"
	"testing"
)

// FuzzImportGrafana: any input imports or fails with an error, never a panic; what
// imports exports, and the export imports again.
func FuzzImportGrafana(f *testing.F) {
	for _, name := range fixtures {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"schemaVersion": 39, "panels": [{"type": "row", "collapsed": true, "panels": [{"type": "graph", "legend": {"values": true}}]}]}`))
	f.Add([]byte(`{"dashboard": {"panels": [{"type": "singlestat", "gauge": {"show": true}, "thresholds": "1,x,3"}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, _, err := ImportGrafana(raw)
		if err != nil {
			return
		}
		_ = Validate(&d)
		out, err := ExportGrafana(d)
		if err != nil {
			t.Fatalf("export of an import: %v", err)
		}
		if _, _, err := ImportGrafana(out); err != nil {
			t.Fatalf("import of an export: %v", err)
		}
	})
}
