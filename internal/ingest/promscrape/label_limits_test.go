package promscrape

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every scrape config gets the pipeline's label limits unless it sets its own; 0
// disables them, as in Prometheus.
func TestLabelLimitDefaults(t *testing.T) {
	pc, err := mustConfig(t, `
scrape_configs:
  - {job_name: a}
  - {job_name: b, label_limit: 5, label_value_length_limit: 10}`).Prometheus()
	require.NoError(t, err)
	require.Equal(t, uint(128), pc.ScrapeConfigs[0].LabelLimit)
	require.Equal(t, uint(256), pc.ScrapeConfigs[0].LabelNameLengthLimit)
	require.Equal(t, uint(16384), pc.ScrapeConfigs[0].LabelValueLengthLimit)
	require.Equal(t, uint(5), pc.ScrapeConfigs[1].LabelLimit)
	require.Equal(t, uint(10), pc.ScrapeConfigs[1].LabelValueLengthLimit)

	pc, err = mustConfig(t, `
label_limit: 0
scrape_configs: [{job_name: a}]`).Prometheus()
	require.NoError(t, err)
	require.Zero(t, pc.ScrapeConfigs[0].LabelLimit)
}

// A target exposing a series with more labels than the limit fails its scrape (up 0),
// as with Prometheus' label_limit; before, Loupe stored it (Prometheus has no default).
func TestScrapeLabelLimit(t *testing.T) {
	var ls []string
	for i := range 200 {
		ls = append(ls, fmt.Sprintf(`l%d="v"`, i))
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "wide{%s} 1\n", strings.Join(ls, ","))
	}))
	defer target.Close()
	q := newQuerier(t, openStore(t))
	startScraper(t, mustConfig(t, fmt.Sprintf(`
scrape_interval: 1s
scrape_timeout: 1s
scrape_configs: [{job_name: wide, static_configs: [{targets: [%q]}]}]
`, strings.TrimPrefix(target.URL, "http://"))), q)
	eventually(t, "scrape failed on the label limit", func() bool {
		v, ok := q.scalar(`up{job="wide"}`)
		return ok && v == 0
	})
	_, ok := q.scalar(`count(wide)`)
	require.False(t, ok, "the series over the limit was stored")
}
