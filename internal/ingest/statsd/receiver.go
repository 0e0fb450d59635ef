// Package statsd receives StatsD and DogStatsD metrics, events and service checks over UDP
// and TCP, aggregates the metrics per flush interval into Prometheus series, and stores the
// events and service checks as logs.
package statsd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/pipeline"
)

// LogConsumer takes the logs made from events and service checks; pipeline.Consumer
// satisfies it. ConsumeLogs blocks until the logs are stored.
type LogConsumer interface {
	ConsumeLogs(ctx context.Context, ld plog.Logs) error
}

// maxLineBytes bounds one TCP line; longer lines are counted as malformed and skipped.
const maxLineBytes = 64 << 10

// tlsHandshakeTimeout bounds a TLS handshake (at most tcp_idle_timeout), so that a client
// that connects and says nothing holds a connection slot briefly.
const tlsHandshakeTimeout = 10 * time.Second

// Receiver listens for StatsD lines. Start binds the listeners; Shutdown closes them and
// flushes. Safe for concurrent use.
type Receiver struct {
	cfg     Config
	app     storage.Appendable
	logs    LogConsumer
	logger  *slog.Logger
	metrics *selfMetrics
	agg     *aggregator
	limiter logLimiter
	// labelLimits bound the labels of a series made from tags.
	labelLimits labellimit.Limits

	events chan plog.Logs

	mu       sync.Mutex
	started  bool
	stopped  bool
	udp      net.PacketConn
	udpInode uint64 // for the kernel's drop count (udp_drops.go); 0 when unknown
	tcp      net.Listener
	conns    map[net.Conn]struct{}
	stop     chan struct{}
	readers  sync.WaitGroup // listeners and connections
	flusher  sync.WaitGroup
	eventsWG sync.WaitGroup

	flushMu   sync.Mutex
	lastFlush time.Time

	now func() time.Time // time.Now; tests replace it before Start
}

// New validates cfg and builds a receiver writing metrics to app and events and service
// checks to logs (which may be nil: events are then counted as dropped). reg receives the
// loupe_statsd_* metrics; it may be nil.
func New(cfg Config, app storage.Appendable, logs LogConsumer, logger *slog.Logger, reg prometheus.Registerer) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if app == nil {
		return nil, errors.New("statsd receiver: nil appendable")
	}
	if cfg.TCPTLS && cfg.TCPAddr != "" && cfg.TLS == nil {
		// Config validation checks that listen.tls is set; the server makes TLS from it.
		return nil, errors.New("statsd tcp_tls: needs the certificate of listen.tls (cert_file and key_file)")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LabelLimits == (labellimit.Limits{}) {
		cfg.LabelLimits = labellimit.Default()
	}
	if cfg.Admission != nil {
		app = cfg.Admission.AdmittedAppendable(app, pipeline.PathStatsD, time.Duration(cfg.FlushInterval))
	}
	m, err := newSelfMetrics(reg)
	if err != nil {
		return nil, err
	}
	r := &Receiver{
		cfg: cfg, app: app, logs: logs, logger: logger, metrics: m, labelLimits: cfg.LabelLimits,
		agg:    newAggregator(cfg.buckets(), cfg.Labels, time.Duration(cfg.SeriesTTL)),
		events: make(chan plog.Logs, cfg.LogQueue),
		conns:  map[net.Conn]struct{}{},
		stop:   make(chan struct{}),
		now:    time.Now,
	}
	if reg != nil {
		if err := reg.Register(newUDPDropsCollector(r)); err != nil {
			return nil, fmt.Errorf("register statsd metrics: %w", err)
		}
	}
	return r, nil
}

// Start binds the configured listeners and starts reading and flushing. It returns an
// error when a listener cannot be bound.
func (r *Receiver) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return errors.New("start statsd receiver: already started")
	}
	var lc net.ListenConfig
	if r.cfg.UDPAddr != "" {
		pc, err := lc.ListenPacket(ctx, "udp", r.cfg.UDPAddr)
		if err != nil {
			return fmt.Errorf("statsd listen udp %s: %w", r.cfg.UDPAddr, err)
		}
		if uc, ok := pc.(*net.UDPConn); ok {
			// A larger kernel buffer absorbs bursts while a packet is being parsed.
			_ = uc.SetReadBuffer(8 << 20)
		}
		r.udp = pc
		r.udpInode = socketInode(pc)
	}
	if r.cfg.TCPAddr != "" {
		l, err := lc.Listen(ctx, "tcp", r.cfg.TCPAddr)
		if err != nil {
			if r.udp != nil {
				_ = r.udp.Close()
			}
			return fmt.Errorf("statsd listen tcp %s: %w", r.cfg.TCPAddr, err)
		}
		if r.cfg.TCPTLS {
			l = tls.NewListener(l, r.cfg.TLS)
		}
		r.tcp = l
	}
	r.started = true
	if r.udp != nil {
		r.readers.Add(1)
		go r.serveUDP(r.udp)
	}
	if r.tcp != nil {
		r.readers.Add(1)
		go r.serveTCP(r.tcp)
	}
	r.flusher.Add(1)
	go r.flushLoop()
	r.eventsWG.Add(1)
	go r.writeEvents()
	var udpAddr, tcpAddr string
	if r.udp != nil {
		udpAddr = r.udp.LocalAddr().String()
	}
	if r.tcp != nil {
		tcpAddr = r.tcp.Addr().String()
	}
	r.logger.Info("statsd receiver listening", "udp", udpAddr, "tcp", tcpAddr, "tcp_tls", r.tcp != nil && r.cfg.TCPTLS)
	return nil
}

// UDPAddr returns the bound UDP address, or nil before Start or when UDP is off.
func (r *Receiver) UDPAddr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.udp == nil {
		return nil
	}
	return r.udp.LocalAddr()
}

// TCPAddr returns the bound TCP address, or nil before Start or when TCP is off.
func (r *Receiver) TCPAddr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tcp == nil {
		return nil
	}
	return r.tcp.Addr()
}

// Shutdown closes the listeners and open TCP connections, writes a last flush and waits
// for queued events to be stored. When ctx ends first, the events still queued are
// counted as dropped and ctx's error is returned. Safe without Start and safe twice.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	started := r.started
	if started {
		close(r.stop)
		if r.udp != nil {
			_ = r.udp.Close()
		}
		if r.tcp != nil {
			_ = r.tcp.Close()
		}
		for c := range r.conns {
			_ = c.Close()
		}
	}
	r.mu.Unlock()
	if !started {
		return nil
	}
	r.readers.Wait()
	// The flush loop writes a final flush once it sees stop; readers are done by now, so
	// it includes every line received.
	r.flusher.Wait()
	close(r.events)
	done := make(chan struct{})
	go func() { r.eventsWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shut down statsd receiver: %w", ctx.Err())
	}
}

// Metadata returns the type and help of every metric family received, by the name it is
// stored under (the shape of prom.MetadataSource).
func (r *Receiver) Metadata() map[string]metadata.Metadata {
	return r.agg.metadata()
}

func (r *Receiver) serveUDP(pc net.PacketConn) {
	defer r.readers.Done()
	buf := make([]byte, 65535)
	for {
		n, _, err := pc.ReadFrom(buf)
		if n > 0 {
			r.metrics.packets.WithLabelValues("udp").Inc()
			r.handlePacket(buf[:n])
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.logger.Warn("statsd udp read", "err", err)
		}
	}
}

func (r *Receiver) serveTCP(l net.Listener) {
	defer r.readers.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.logger.Warn("statsd tcp accept", "err", err)
			select {
			case <-r.stop:
				return
			case <-time.After(100 * time.Millisecond): // e.g. out of file descriptors
			}
			continue
		}
		r.mu.Lock()
		if r.stopped {
			r.mu.Unlock()
			_ = c.Close()
			return
		}
		if len(r.conns) >= r.cfg.TCPMaxConnections {
			r.mu.Unlock()
			_ = c.Close()
			r.metrics.tcpRefused.Inc()
			r.limiter.log(r.logger, slog.LevelWarn, "statsd tcp connection refused: tcp_max_connections open", "limit", r.cfg.TCPMaxConnections)
			continue
		}
		r.conns[c] = struct{}{}
		r.metrics.tcpOpen.Inc()
		r.readers.Add(1)
		r.mu.Unlock()
		go r.serveConn(c)
	}
}

func (r *Receiver) serveConn(c net.Conn) {
	defer r.readers.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		r.metrics.tcpOpen.Dec()
		_ = c.Close()
	}()
	r.metrics.packets.WithLabelValues("tcp").Inc()
	idle := time.Duration(r.cfg.TCPIdleTimeout)
	if tc, ok := c.(*tls.Conn); ok && !r.handshake(tc, min(idle, tlsHandshakeTimeout)) {
		return
	}
	br := bufio.NewReaderSize(idleReader{c: c, idle: idle}, maxLineBytes)
	skipping := false // inside a line that was too long
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping {
				r.malformed(reasonLineTooLong, line[:min(len(line), 64)], "line longer than 64 KiB")
			}
			skipping = true
			continue
		case skipping:
			skipping = false
			if err == nil {
				continue
			}
		default:
			r.handleLine(bytes.TrimRight(line, "\r\n"))
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				r.metrics.tcpIdleClosed.Inc()
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.logger.Debug("statsd tcp read", "err", err)
			}
			return
		}
	}
}

// handshake runs the TLS handshake of c within timeout. A failure (a plain-text client, a
// client certificate that is missing or not signed by listen.tls.client_ca_file) closes
// the connection before any line is read; it is counted and logged, at most once a second.
func (r *Receiver) handshake(c *tls.Conn, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		r.metrics.tlsFailed.Inc()
		if !errors.Is(err, net.ErrClosed) {
			r.limiter.log(r.logger, slog.LevelWarn, "statsd tcp tls handshake failed; connection closed",
				"remote", c.RemoteAddr().String(), "err", err)
		}
		return false
	}
	return true
}

// idleReader moves a connection's read deadline forward before every read, so a read
// fails once the peer has sent nothing for idle.
type idleReader struct {
	c    net.Conn
	idle time.Duration
}

func (ir idleReader) Read(p []byte) (int, error) {
	if err := ir.c.SetReadDeadline(time.Now().Add(ir.idle)); err != nil {
		return 0, err
	}
	return ir.c.Read(p)
}

// handlePacket handles the newline-separated lines of one datagram.
func (r *Receiver) handlePacket(p []byte) {
	for len(p) > 0 {
		var line []byte
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			line, p = p, nil
		}
		r.handleLine(bytes.TrimRight(line, "\r"))
	}
}

// handleLine parses one line and records it. It never blocks on storage.
func (r *Receiver) handleLine(line []byte) {
	if len(line) == 0 {
		return
	}
	now := r.now()
	switch {
	case bytes.HasPrefix(line, []byte("_e{")):
		e, err := ParseEvent(line)
		if err != nil {
			r.malformedErr(err, line)
			return
		}
		ld := plog.NewLogs()
		appendEvent(ld, e, now)
		r.queueLogs(ld, "event")
	case bytes.HasPrefix(line, []byte("_sc|")):
		c, err := ParseServiceCheck(line)
		if err != nil {
			r.malformedErr(err, line)
			return
		}
		ld := plog.NewLogs()
		appendServiceCheck(ld, c, now)
		r.queueLogs(ld, "service_check")
	default:
		m, err := ParseMetric(line)
		if err != nil {
			r.malformedErr(err, line)
			return
		}
		if reason, msg := r.checkTags(&m); reason != "" {
			r.malformed(reason, line, msg)
			return
		}
		if reason := r.agg.add(&m, now); reason != "" {
			r.malformed(reason, line, "metric "+m.Name+" was first received with another type")
			return
		}
		r.metrics.lines.WithLabelValues(m.Kind.String()).Inc()
	}
}

// checkTags applies the label limits (labellimit, the pipeline's attribute limits) to
// the series a metric line would make: its name, the configured labels and its tags.
func (r *Receiver) checkTags(m *Metric) (reason, msg string) {
	if n := len(m.Tags) + len(r.cfg.Labels) + 1; r.labelLimits.Labels > 0 && n > r.labelLimits.Labels {
		return labellimit.ReasonTooManyLabels, fmt.Sprintf("metric %.64q would have %d labels, more than the limit of %d", m.Name, n, r.labelLimits.Labels)
	}
	for _, t := range m.Tags {
		if err := r.labelLimits.CheckLabel(t.Key, t.Value); err != nil {
			return err.(*labellimit.Error).Reason, err.Error()
		}
	}
	return "", ""
}

func (r *Receiver) queueLogs(ld plog.Logs, kind string) {
	if r.logs == nil {
		r.metrics.logsDropped.WithLabelValues("no_log_consumer").Inc()
		return
	}
	select {
	case r.events <- ld:
		r.metrics.lines.WithLabelValues(kind).Inc()
	default:
		r.metrics.logsDropped.WithLabelValues("queue_full").Inc()
		r.limiter.log(r.logger, slog.LevelWarn, "statsd event queue full, dropping", "kind", kind)
	}
}

// writeEvents stores queued events and service checks, one at a time.
func (r *Receiver) writeEvents() {
	defer r.eventsWG.Done()
	ctx := context.Background()
	for ld := range r.events {
		if err := r.logs.ConsumeLogs(ctx, ld); err != nil {
			r.metrics.logsDropped.WithLabelValues("store_error").Inc()
			r.limiter.log(r.logger, slog.LevelWarn, "statsd event not stored", "err", err)
		}
	}
}

func (r *Receiver) malformedErr(err error, line []byte) {
	reason := reasonUnknownFormat
	var pe *ParseError
	if errors.As(err, &pe) {
		reason = pe.Reason
	}
	r.malformed(reason, line, err.Error())
}

func (r *Receiver) malformed(reason string, line []byte, msg string) {
	r.metrics.malformed.WithLabelValues(reason).Inc()
	if len(line) > 200 {
		line = line[:200]
	}
	r.limiter.log(r.logger, slog.LevelDebug, "malformed statsd line", "reason", reason, "err", msg, "line", string(line))
}

func (r *Receiver) flushLoop() {
	defer r.flusher.Done()
	t := time.NewTicker(time.Duration(r.cfg.FlushInterval))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = r.Flush()
		case <-r.stop:
			// Wait for the readers so the final flush holds every received line.
			r.readers.Wait()
			_ = r.Flush()
			return
		}
	}
}

// Flush writes the aggregated values now. The flush loop calls it every FlushInterval;
// tests and shutdown call it directly.
// Flushes are serialized and stamped with strictly increasing times.
func (r *Receiver) Flush() error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	start := time.Now()
	now := r.now()
	if !now.After(r.lastFlush) {
		now = r.lastFlush.Add(time.Millisecond)
	}
	r.lastFlush = now.Truncate(time.Millisecond)
	app := r.app.Appender(context.Background())
	samples, failed, appendErr := r.agg.flush(app, now)
	if err := app.Commit(); err != nil {
		r.metrics.flushes.WithLabelValues("error").Inc()
		r.logger.Error("statsd flush failed", "err", err, "samples", samples)
		return fmt.Errorf("statsd flush: %w", err)
	}
	r.metrics.flushes.WithLabelValues("ok").Inc()
	r.metrics.samples.Add(float64(samples))
	r.metrics.flushDuration.Observe(time.Since(start).Seconds())
	if failed > 0 {
		r.metrics.samplesRejected.Add(float64(failed))
		r.limiter.log(r.logger, slog.LevelWarn, "statsd flush: samples refused by the store", "count", failed, "first", appendErr)
	}
	return nil
}

// logLimiter lets one message through per second and says how many it held back, so a
// flood of bad packets cannot flood the log.
type logLimiter struct {
	last       atomic.Int64 // unix nanos of the last message let through
	suppressed atomic.Int64
}

func (l *logLimiter) log(logger *slog.Logger, level slog.Level, msg string, args ...any) {
	if !logger.Enabled(context.Background(), level) {
		return
	}
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(time.Second) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return
	}
	if n := l.suppressed.Swap(0); n > 0 {
		args = append(args, "suppressed", n)
	}
	logger.Log(context.Background(), level, msg, args...)
}
