package duck

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/storetest"
)

// dashboardStore closes the DuckDB store under the dashboards.
type dashboardStore struct {
	*Dashboards
	s *Store
}

func (d dashboardStore) Close() error { return d.s.Close() }

func TestDashboardConformance(t *testing.T) {
	storetest.RunDashboards(t, func(t *testing.T, dir string) storetest.DashboardStore {
		t.Helper()
		s, err := Open(filepath.Join(dir, "loupe.duckdb"), DefaultOptions(), nil, prometheus.NewRegistry())
		require.NoError(t, err)
		d, err := s.Dashboards(context.Background())
		require.NoError(t, err)
		return dashboardStore{d, s}
	})
}
