package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	dashapi "github.com/loupe-dev/loupe/internal/api/dashboards"
	"github.com/loupe-dev/loupe/internal/dashboards"
	"github.com/loupe-dev/loupe/internal/dashboards/builtin"
)

// dashboardsAPI builds the dashboards API (issue 15) over the backend's dashboard store, with the
// built-in dashboards and those of dashboards.provisioning_dirs provisioned read-only,
// and registers the watcher that reloads the folders.
func (s *Server) dashboardsAPI(open func(context.Context) (dashboards.Store, error)) (http.Handler, error) {
	store, err := open(context.Background())
	if err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	logger := s.logger.With("component", "dashboards")
	prov := dashboards.NewProvisioner(builtin.FS, s.cfg.DashboardProvisioningDirs(), logger)
	prov.Load()
	w := &provisionWatcher{prov: prov, interval: time.Duration(s.cfg.Dashboards.ProvisioningInterval)}
	if err := s.start(context.Background(), w); err != nil {
		return nil, err
	}
	return dashapi.New(store, prov, logger), nil
}

// provisionWatcher runs the provisioner's reload loop as a component.
type provisionWatcher struct {
	prov     *dashboards.Provisioner
	interval time.Duration
	cancel   context.CancelFunc
	done     sync.WaitGroup
}

func (w *provisionWatcher) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.done.Go(func() { w.prov.Run(ctx, w.interval) })
	return nil
}

func (w *provisionWatcher) Shutdown(context.Context) error {
	if w.cancel != nil {
		w.cancel()
	}
	w.done.Wait()
	return nil
}
