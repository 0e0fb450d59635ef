package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/config"
)

// The server loads rules.files relative to the configuration file's directory, serves
// them on /api/v1/rules, and Reload refuses a bad rule file keeping the running rules.
func TestRulesWiring(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "a.rules.yml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("groups:\n  - name: a\n    rules:\n      - record: one\n        expr: vector(1)\n"), 0o644))

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.ListenConfig{HTTP: "127.0.0.1:0"}
	cfg.Statsd.UDPAddr, cfg.Statsd.TCPAddr = "", ""
	cfg.Scrape.Dir = dir // where cmd/loupe puts the configuration file's directory
	cfg.Rules.Files, cfg.Rules.EvaluationInterval = []string{"*.rules.yml"}, model.Duration(time.Second)
	require.NoError(t, cfg.Validate())
	reload := cfg
	s := New(cfg, func() (config.Config, error) { return reload, nil }, slog.New(slog.DiscardHandler))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })

	groups := func() []string {
		resp, err := http.Get("http://" + s.HTTPAddr() + "/api/v1/rules")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var body struct {
			Data struct {
				Groups []struct {
					Name string `json:"name"`
					File string `json:"file"`
				} `json:"groups"`
			} `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		var names []string
		for _, g := range body.Data.Groups {
			names = append(names, g.Name+" "+g.File)
		}
		return names
	}
	require.Equal(t, []string{"a " + rulesFile}, groups())

	bad := filepath.Join(dir, "b.rules.yml")
	require.NoError(t, os.WriteFile(bad, []byte("groups:\n  - name: b\n    rules:\n      - record: two\n        expr: vector(2\n"), 0o644))
	err := s.Reload(context.Background())
	require.ErrorContains(t, err, "rules: invalid rule files: "+bad+`: 5:15: group "b", rule 1, "two": could not parse expression`)
	require.Equal(t, []string{"a " + rulesFile}, groups(), "the running rules are kept")

	reload.Rules.EvaluationInterval = 0
	require.ErrorContains(t, s.Reload(context.Background()), "rules.evaluation_interval: 0s: must be positive")

	reload.Rules.EvaluationInterval = model.Duration(time.Second)
	require.NoError(t, os.Remove(bad))
	reload.Rules.Files = []string{"*.rules.yml", rulesFile} // the same file twice is loaded once
	require.NoError(t, s.Reload(context.Background()))
	require.Equal(t, []string{"a " + rulesFile}, groups())
}
