package sentry

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigKeysPath(t *testing.T) {
	require.Equal(t, filepath.Join("/data", "sentry-keys.json"), Default().KeysPath("/data"))
	require.Equal(t, "/etc/loupe/keys.json", Config{KeysFile: "/etc/loupe/keys.json"}.KeysPath("/data"))
	require.Equal(t, "", Config{}.KeysPath("/data"), "no keys file")
}

// A key created for a configured project's name belongs to that project and takes its
// limits; a project without limits of its own takes the section's.
func TestProjectsKeysFile(t *testing.T) {
	cfg := Config{
		Projects:        []Project{{ID: "7", Name: "api", Keys: []string{keyAPI}, EventsPerSecond: 5}},
		KeysFile:        "keys.json",
		EventsPerSecond: 2, Burst: 3,
	}
	path := cfg.KeysPath(t.TempDir())
	p, err := NewProjects(cfg, path)
	require.NoError(t, err)
	pr, ok := p.Lookup(keyAPI)
	require.True(t, ok)
	require.Equal(t, Project{ID: "7", Name: "api", Keys: []string{keyAPI}, EventsPerSecond: 5, Burst: 3}, pr)

	created, err := CreateKey(path, cfg.Projects, "api")
	require.NoError(t, err)
	require.Equal(t, "7", created.ID)
	pr, ok = p.Lookup(created.Keys[0])
	require.True(t, ok, "the keys file is read again for an unknown key")
	require.Equal(t, Project{ID: "7", Name: "api", Keys: created.Keys, EventsPerSecond: 5, Burst: 3}, pr)

	worker, err := CreateKey(path, cfg.Projects, "worker")
	require.NoError(t, err)
	require.Equal(t, "8", worker.ID, "the next id after the configured ones")
	p, err = NewProjects(cfg, path)
	require.NoError(t, err)
	pr, ok = p.Lookup(worker.Keys[0])
	require.True(t, ok)
	require.Equal(t, Project{ID: "8", Name: "worker", Keys: worker.Keys, EventsPerSecond: 2, Burst: 3}, pr)
}
