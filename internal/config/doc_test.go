package config

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestDocListsEveryKey checks that the YAML file of docs/configuration.md, "with every key
// at its default", has every key the configuration has, so that a key added in code is
// documented there too, and that the file, loaded, is exactly the defaults.
func TestDocListsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, block)

	var documented map[string]any
	require.NoError(t, yaml.Unmarshal(block[1], &documented))
	out, err := yaml.Marshal(Default())
	require.NoError(t, err)
	var defaults map[string]any
	require.NoError(t, yaml.Unmarshal(out, &defaults))
	have, want := keyPaths("", documented), keyPaths("", defaults)
	for _, k := range want {
		require.Contains(t, have, k, "docs/configuration.md does not list %s", k)
	}

	// The documented values are the defaults (compared as YAML: an empty list in the doc
	// is a nil one in Default).
	loaded, err := Load(bytes.NewReader(block[1]))
	require.NoError(t, err)
	loaded.Scrape.ScrapeConfigs = Default().Scrape.ScrapeConfigs // [] in the doc, unset in Default
	loaded.Profiling.ScrapeConfigs = Default().Profiling.ScrapeConfigs
	got, err := yaml.Marshal(loaded)
	require.NoError(t, err)
	require.Equal(t, string(out), string(got), "the documented values are the defaults")
}

// keyPaths lists the dotted paths of every key of m, nested maps included.
func keyPaths(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		out = append(out, prefix+k)
		if sub, ok := v.(map[string]any); ok && k != "labels" {
			out = append(out, keyPaths(prefix+k+".", sub)...)
		}
	}
	slices.Sort(out)
	return out
}
