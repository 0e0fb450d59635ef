// Package otlp receives OTLP traces, logs and metrics over gRPC and HTTP and hands them to
// the ingest pipeline.
package otlp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/selfmetrics"
)

// Config configures the OTLP receivers. Start from DefaultConfig.
//
// Defaults:
//
//	GRPCAddr         127.0.0.1:4317
//	HTTPAddr         127.0.0.1:4318
//	MaxRequestBytes  16 MiB
//	ReadTimeout      1m
//	ReadHeaderTimeout 10s
//	IdleTimeout      2m
type Config struct {
	// GRPCAddr is the listen address of OTLP/gRPC; empty disables it.
	GRPCAddr string
	// HTTPAddr is the listen address of OTLP/HTTP (/v1/traces, /v1/logs, /v1/metrics);
	// empty disables it.
	HTTPAddr string
	// MaxRequestBytes bounds one request: an HTTP body both as sent and after
	// decompression (413 above it), a gRPC message after decompression
	// (RESOURCE_EXHAUSTED above it).
	MaxRequestBytes int64
	// ReadTimeout bounds reading one HTTP request, body included.
	ReadTimeout time.Duration
	// ReadHeaderTimeout bounds reading the headers of an HTTP request.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes an HTTP keep-alive connection idle for this long.
	IdleTimeout time.Duration
	// WrapHTTP, when set, wraps the handler of the OTLP/HTTP listener (the server guards
	// it against web pages as it does its HTTP port). Handler() is not wrapped.
	WrapHTTP func(http.Handler) http.Handler
	// TLS, when set, serves both listeners over TLS: OTLP/HTTP on a TLS listener, gRPC
	// with it as transport credentials. It should offer h2 and http/1.1 by ALPN.
	TLS *tls.Config
	// GRPCOptions are added to the gRPC server's options (the server's token
	// interceptors, internal/auth).
	GRPCOptions []grpc.ServerOption
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		GRPCAddr:        "127.0.0.1:4317",
		HTTPAddr:        "127.0.0.1:4318",
		MaxRequestBytes: 16 << 20,
		ReadTimeout:     time.Minute,

		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// Validate reports every invalid field, naming it and its value.
func (c Config) Validate() error {
	var errs []error
	if c.MaxRequestBytes <= 0 {
		errs = append(errs, fmt.Errorf("otlp.MaxRequestBytes: %d, must be > 0", c.MaxRequestBytes))
	}
	if c.MaxRequestBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("otlp.MaxRequestBytes: %d, must be <= 1 GiB", c.MaxRequestBytes))
	}
	if c.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("otlp.ReadTimeout: %s, must be > 0", c.ReadTimeout))
	}
	if c.ReadHeaderTimeout <= 0 {
		errs = append(errs, fmt.Errorf("otlp.ReadHeaderTimeout: %s, must be > 0", c.ReadHeaderTimeout))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("otlp.IdleTimeout: %s, must be > 0", c.IdleTimeout))
	}
	return errors.Join(errs...)
}

// Receiver serves OTLP/gRPC and OTLP/HTTP.
type Receiver struct {
	cfg      Config
	consumer pipeline.Consumer
	logger   *slog.Logger
	m        *receiverMetrics
	handler  http.Handler

	mu       sync.Mutex
	started  bool
	grpcSrv  *grpc.Server
	httpSrv  *http.Server
	grpcAddr net.Addr
	httpAddr net.Addr
	serving  sync.WaitGroup
}

// New returns a receiver handing data to consumer. Nothing listens before Start. A nil
// logger discards logs; a nil reg registers no metrics.
func New(cfg Config, consumer pipeline.Consumer, logger *slog.Logger, reg prometheus.Registerer) *Receiver {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := newReceiverMetrics(reg, logger)
	return &Receiver{
		cfg:      cfg,
		consumer: consumer,
		logger:   logger,
		m:        m,
		handler:  newHTTPHandler(consumer, cfg.MaxRequestBytes, m),
	}
}

// Handler returns the OTLP/HTTP handler (routes /v1/traces, /v1/logs, /v1/metrics), to
// mount on another server. It works without Start.
func (r *Receiver) Handler() http.Handler { return r.handler }

// Start validates the configuration, listens on the configured addresses and serves in
// the background. Addresses may use port 0; GRPCAddr and HTTPAddr return the bound ones.
func (r *Receiver) Start(ctx context.Context) error {
	if err := r.cfg.Validate(); err != nil {
		return fmt.Errorf("start otlp receiver: %w", err)
	}
	if r.consumer == nil {
		return errors.New("start otlp receiver: no consumer")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("start otlp receiver: already started")
	}
	var lc net.ListenConfig
	var grpcLn, httpLn net.Listener
	if r.cfg.GRPCAddr != "" {
		ln, err := lc.Listen(ctx, "tcp", r.cfg.GRPCAddr)
		if err != nil {
			return fmt.Errorf("start otlp receiver: listen grpc: %w", err)
		}
		grpcLn = ln
	}
	if r.cfg.HTTPAddr != "" {
		ln, err := lc.Listen(ctx, "tcp", r.cfg.HTTPAddr)
		if err != nil {
			if grpcLn != nil {
				_ = grpcLn.Close()
			}
			return fmt.Errorf("start otlp receiver: listen http: %w", err)
		}
		httpLn = ln
		if r.cfg.TLS != nil {
			httpLn = tls.NewListener(ln, r.cfg.TLS)
		}
	}
	r.started = true

	if grpcLn != nil {
		r.grpcSrv = grpc.NewServer(append([]grpc.ServerOption{
			grpc.ForceServerCodecV2(rawCodec{}),
			grpc.MaxRecvMsgSize(int(r.cfg.MaxRequestBytes)),
			grpcCreds(r.cfg.TLS),
		}, r.cfg.GRPCOptions...)...)
		registerGRPC(r.grpcSrv, r.consumer, r.m)
		r.grpcAddr = grpcLn.Addr()
		r.serving.Add(1)
		go func() {
			defer r.serving.Done()
			if err := r.grpcSrv.Serve(grpcLn); err != nil {
				r.logger.Error("otlp grpc server stopped", "err", err)
			}
		}()
		r.logger.Info("otlp grpc receiver listening", "addr", r.grpcAddr.String())
	}
	if httpLn != nil {
		h := r.handler
		if r.cfg.WrapHTTP != nil {
			h = r.cfg.WrapHTTP(h)
		}
		r.httpSrv = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: r.cfg.ReadHeaderTimeout,
			ReadTimeout:       r.cfg.ReadTimeout,
			IdleTimeout:       r.cfg.IdleTimeout,
			ErrorLog:          slog.NewLogLogger(r.logger.Handler(), slog.LevelWarn),
		}
		r.httpAddr = httpLn.Addr()
		r.serving.Add(1)
		go func() {
			defer r.serving.Done()
			if err := r.httpSrv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.logger.Error("otlp http server stopped", "err", err)
			}
		}()
		r.logger.Info("otlp http receiver listening", "addr", r.httpAddr.String())
	}
	return nil
}

// GRPCAddr returns the address the gRPC server listens on ("" before Start or when
// disabled).
func (r *Receiver) GRPCAddr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.grpcAddr == nil {
		return ""
	}
	return r.grpcAddr.String()
}

// HTTPAddr returns the address the HTTP server listens on ("" before Start or when
// disabled).
func (r *Receiver) HTTPAddr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.httpAddr == nil {
		return ""
	}
	return r.httpAddr.String()
}

// Shutdown stops listening and waits for the requests in progress (each waits for its
// data to be committed or refused) until ctx ends; then it closes the remaining
// connections. Safe without Start and safe twice.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	grpcSrv, httpSrv := r.grpcSrv, r.httpSrv
	r.mu.Unlock()
	var errs []error
	if httpSrv != nil {
		if err := httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown otlp http: %w", err))
			_ = httpSrv.Close()
		}
	}
	if grpcSrv != nil {
		stopped := make(chan struct{})
		go func() {
			grpcSrv.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			grpcSrv.Stop()
			<-stopped
			errs = append(errs, fmt.Errorf("shutdown otlp grpc: %w", ctx.Err()))
		}
	}
	r.serving.Wait()
	return errors.Join(errs...)
}

// receiverMetrics are the receivers' own Prometheus collectors.
type receiverMetrics struct {
	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
}

func newReceiverMetrics(reg prometheus.Registerer, logger *slog.Logger) *receiverMetrics {
	m := &receiverMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_otlp_requests_total",
			Help: "OTLP export requests by transport (grpc, http), signal and response code (HTTP status or gRPC code).",
		}, []string{"transport", "signal", "code"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_otlp_received_bytes_total",
			Help: "Bytes of OTLP export requests after decompression, by transport and signal.",
		}, []string{"transport", "signal"}),
	}
	m.requests = selfmetrics.Register(reg, logger, m.requests)
	m.bytes = selfmetrics.Register(reg, logger, m.bytes)
	return m
}
