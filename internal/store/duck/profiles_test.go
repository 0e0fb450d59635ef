package duck

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/storetest"
)

func TestProfileConformance(t *testing.T) {
	storetest.RunProfiles(t, func(t *testing.T, dir string) storetest.ProfileStore {
		t.Helper()
		s, err := Open(filepath.Join(dir, "loupe.duckdb"), DefaultOptions(), nil, prometheus.NewRegistry())
		require.NoError(t, err)
		return s
	})
}
