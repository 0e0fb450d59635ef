package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/store"
)

// httpServer runs the query API listener as a component.
type httpServer struct {
	s   *Server
	srv *http.Server
}

// newHTTPServer bounds what a client may hold: the time to send headers, the time to
// send a body (per request, see bodyDeadline) and the time an idle keep-alive connection
// stays open. There is no server-wide ReadTimeout or WriteTimeout: queries and live tail
// may run longer than a client takes to send its request.
func (s *Server) newHTTPServer(h http.Handler) *httpServer {
	l := s.cfg.Limits
	return &httpServer{s: s, srv: &http.Server{
		Handler:           bodyDeadline(h, time.Duration(l.HTTPBodyTimeout)),
		ReadHeaderTimeout: time.Duration(l.HTTPReadHeaderTimeout),
		IdleTimeout:       time.Duration(l.HTTPIdleTimeout),
	}}
}

// bodyDeadline gives a request that has a body d to send it: reads past that fail (the
// handler answers 400) and the connection is closed. The deadline is lifted once the body
// is read to its end, so that it cannot cut a long query or a live tail short: after the
// body, the server's background read of the connection would otherwise hit it and cancel
// the request's context.
func bodyDeadline(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody clears the connection's read deadline when the body ends.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (h *httpServer) Start(context.Context) error {
	ln, err := net.Listen("tcp", h.s.cfg.Listen.HTTP)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", h.s.cfg.Listen.HTTP, err)
	}
	if h.s.tls.http != nil {
		ln = tls.NewListener(ln, h.s.tls.http)
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

// labelLimits are the pipeline's attribute limits from the configuration, applied to the
// labels of series and streams written by remote write and Loki push.
func (s *Server) labelLimits() labellimit.Limits {
	l := pipeline.DefaultLimits()
	l.MaxAttributes = s.cfg.Limits.MaxAttributesPerItem
	l.MaxAttributeValueLength = s.cfg.Limits.MaxAttributeValueBytes
	return labellimit.FromPipeline(l)
}

// registerDiskGauge exports loupe_store_disk_bytes{signal}, read when /metrics is scraped.
func (s *Server) registerDiskGauge(sizer store.Sizer) {
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
	}})
}

type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
