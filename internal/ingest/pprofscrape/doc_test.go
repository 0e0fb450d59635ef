package pprofscrape

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDocExample checks the configuration example of docs/profiles.md's "Pulling profiles":
// it parses and validates, with the documented profile types and CPU profile length.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/profiles.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Pulling profiles")
	if !ok {
		t.Fatal("no Pulling profiles section")
	}
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(section)
	if block == nil {
		t.Fatal("no yaml block in the Pulling profiles section")
	}
	var file struct {
		Profiling Config `yaml:"profiling"`
	}
	file.Profiling = Default()
	if err := yaml.Unmarshal([]byte(block[1]), &file); err != nil {
		t.Fatal(err)
	}
	jobs, err := file.Profiling.jobs()
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].cpuSeconds != 14 || len(jobs[0].kinds) != 5 || len(jobs[0].scrape.RelabelConfigs) != 1 {
		t.Fatalf("jobs %+v", jobs)
	}
}
