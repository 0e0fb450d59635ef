package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConfigDocExamples checks docs/configuration.md: the invalid-flags example prints what
// the doc shows, and the full YAML file with every default is accepted as is.
func TestConfigDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	require.NoError(t, err)

	example := regexp.MustCompile("(?s)```\n\\$ (loupe serve [^\n]*)\n(.*?)```").FindStringSubmatch(string(doc))
	require.NotNil(t, example, "the doc shows a failing `loupe serve` invocation")
	args := strings.Fields(example[1])[1:]
	out, err := exec.Command(loupeBin, args...).CombinedOutput()
	require.Error(t, err)
	require.Equal(t, example[2], string(out))

	yaml := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(string(doc))
	require.NotNil(t, yaml)
	dir := t.TempDir()
	cfg := strings.Replace(yaml[1], "data_dir: loupe-data", "data_dir: "+dir, 1)
	cfg = regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(cfg, "127.0.0.1:0")
	startServer(t, dir, "--config", writeConfig(t, cfg))
}
