package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/store"
)

// httpServer runs the query API listener as a component.
type httpServer struct {
	s   *Server
	srv *http.Server
}

func (s *Server) newHTTPServer(h http.Handler) *httpServer {
	return &httpServer{s: s, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
	}}
}

func (h *httpServer) Start(context.Context) error {
	ln, err := net.Listen("tcp", h.s.cfg.Listen.HTTP)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", h.s.cfg.Listen.HTTP, err)
	}
	h.s.httpLn = ln
	go func() {
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.s.logger.Error("http server", "err", err)
		}
	}()
	return nil
}

func (h *httpServer) Shutdown(ctx context.Context) error {
	if err := h.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown http: %w", err)
	}
	return nil
}

// registerDiskGauge exports loupe_store_disk_bytes{signal}, read when /metrics is scraped.
func (s *Server) registerDiskGauge(sizer store.Sizer, metricsDir string) {
	desc := prometheus.NewDesc("loupe_store_disk_bytes", "Bytes on disk per signal.", []string{"signal"}, nil)
	s.reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sizes, err := sizer.DiskBytes(ctx)
		if err != nil {
			s.logger.Warn("measure store size", "err", err)
		}
		for sig, n := range sizes {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), string(sig))
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(dirSize(metricsDir)), string(store.SignalMetrics))
	}})
}

type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
