// Package loki receives logs pushed in Loki's format (POST /loki/api/v1/push, protobuf +
// snappy or JSON) and hands them to the ingest pipeline as OTLP logs.
package loki

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/ingest/httpbody"
	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// Path is where Loki clients push; mount the handler there.
const Path = "/loki/api/v1/push"

// Options configure the push handler. Start from DefaultOptions.
type Options struct {
	// MaxRequestBytes bounds one request body both as sent and after decompression
	// (gzip/deflate Content-Encoding, snappy for protobuf); larger requests get 413.
	// Default 16 MiB.
	MaxRequestBytes int64
	// Labels bound each stream's labels (count, name and value bytes), checked before
	// they are sorted or converted: 400 naming the stream beyond. Default: the pipeline's
	// attribute limits (128 labels, names of 256 bytes, values of 16 KiB).
	Labels labellimit.Limits
	// DefaultRetryAfter is the Retry-After sent with a 429/503 when the pipeline does not
	// suggest a delay. Default 1s.
	DefaultRetryAfter time.Duration
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{MaxRequestBytes: 16 << 20, Labels: labellimit.Default(), DefaultRetryAfter: time.Second}
}

// Validate reports every invalid field, naming it and its value.
func (o Options) Validate() error {
	var errs []error
	if o.MaxRequestBytes <= 0 || o.MaxRequestBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("loki.MaxRequestBytes: %d, must be in (0, 1 GiB]", o.MaxRequestBytes))
	}
	if o.DefaultRetryAfter <= 0 {
		errs = append(errs, fmt.Errorf("loki.DefaultRetryAfter: %s, must be > 0", o.DefaultRetryAfter))
	}
	return errors.Join(errs...)
}

// pushHandler implements POST /loki/api/v1/push.
type pushHandler struct {
	consumer pipeline.Consumer
	opts     Options
	logger   *slog.Logger
	m        *metrics
	now      func() time.Time
}

// NewPushHandler returns the Loki push endpoint over consumer. Invalid options fall back
// to their defaults (with a warning); a nil logger discards logs; a nil reg registers no
// metrics. The handler does not look at the path: mount it at Path (and, for old
// promtail versions, at /api/prom/push).
//
// Answers: 204 when every entry is committed; 400 naming the stream and the problem for
// bad input (nothing is committed); 413 over MaxRequestBytes; 415 for an unknown
// Content-Type or Content-Encoding; 429 with Retry-After when the ingest queue is full;
// 503 with Retry-After when the pipeline is not running or the store failed.
func NewPushHandler(consumer pipeline.Consumer, opts Options, logger *slog.Logger, reg prometheus.Registerer) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	def := DefaultOptions()
	if opts.MaxRequestBytes <= 0 || opts.MaxRequestBytes > 1<<30 {
		logger.Warn("loki push: invalid MaxRequestBytes, using the default", "value", opts.MaxRequestBytes, "default", def.MaxRequestBytes)
		opts.MaxRequestBytes = def.MaxRequestBytes
	}
	if opts.DefaultRetryAfter <= 0 {
		opts.DefaultRetryAfter = def.DefaultRetryAfter
	}
	return &pushHandler{consumer: consumer, opts: opts, logger: logger, m: newMetrics(reg, logger), now: time.Now}
}

// pushResult is the answer to one request; ServeHTTP writes it.
type pushResult struct {
	status     int
	msg        string // plain-text body of an error
	retryAfter time.Duration
	entries    int // entries committed
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res := h.handle(r)
	h.m.requests.WithLabelValues(strconv.Itoa(res.status)).Inc()
	h.m.entries.Add(float64(res.entries))
	if res.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(res.retryAfter.Seconds()))))
	}
	if res.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if res.status == http.StatusNoContent {
		w.WriteHeader(res.status)
		return
	}
	if res.status >= 500 {
		h.logger.Warn("loki push failed", "status", res.status, "err", res.msg)
	} else {
		h.logger.Debug("loki push rejected", "status", res.status, "err", res.msg)
	}
	http.Error(w, res.msg, res.status)
}

func (h *pushHandler) handle(r *http.Request) pushResult {
	if r.Method != http.MethodPost {
		return pushResult{status: http.StatusMethodNotAllowed, msg: fmt.Sprintf("method %s not allowed, use POST", r.Method)}
	}
	isJSON, err := requestFormat(r.Header.Get("Content-Type"))
	if err != nil {
		return pushResult{status: http.StatusUnsupportedMediaType, msg: err.Error()}
	}
	body, res := h.readBody(r, isJSON)
	if res != nil {
		return *res
	}
	h.m.bytes.Add(float64(len(body)))

	var streams []stream
	if isJSON {
		streams, err = decodeJSON(body, h.opts.Labels)
	} else {
		streams, err = decodeProtobuf(body, h.opts.MaxRequestBytes, h.opts.Labels)
	}
	if errors.Is(err, errTooLarge) {
		return h.tooLarge()
	}
	if err != nil {
		return pushResult{status: http.StatusBadRequest, msg: err.Error()}
	}
	n := 0
	for i, s := range streams {
		if len(s.entries) == 0 {
			return pushResult{status: http.StatusBadRequest, msg: fmt.Sprintf("stream %d %s has no entries", i, clip(s.raw))}
		}
		n += len(s.entries)
	}
	if n == 0 {
		return pushResult{status: http.StatusNoContent}
	}
	return h.consume(r, streams, n)
}

// consume hands the logs to the pipeline and maps its error classes to Loki's answers
// (see pipeline.Consumer).
func (h *pushHandler) consume(r *http.Request, streams []stream, n int) pushResult {
	err := h.consumer.ConsumeLogs(r.Context(), toLogs(streams, h.now()))
	var pe *store.PartialError
	switch {
	case err == nil:
		return pushResult{status: http.StatusNoContent, entries: n}
	case errors.Is(err, tenant.ErrLimit):
		// A tenant's limit (tenants.limits) refused the request whole: 429 as Loki's
		// rate limit, with Retry-After for the rate only.
		le, _ := tenant.AsLimit(err)
		return pushResult{status: http.StatusTooManyRequests, msg: err.Error(), retryAfter: le.RetryAfter}
	case errors.Is(err, pipeline.ErrStreamLimit) && errors.As(err, &pe):
		// Loki answers 429 to streams beyond its stream limit, with the others written.
		return pushResult{status: http.StatusTooManyRequests, entries: n - int(pe.Rejected),
			msg: fmt.Sprintf("%d of %d entries rejected (the others are stored): %s", pe.Rejected, n, pe.Msg)}
	case errors.As(err, &pe):
		// Loki has no partial success: the rest is committed, so the client must not
		// resend, and a 4xx is what it does not retry.
		return pushResult{status: http.StatusBadRequest, entries: n - int(pe.Rejected),
			msg: fmt.Sprintf("%d of %d entries rejected (the others are stored): %s", pe.Rejected, n, pe.Msg)}
	case pipeline.IsPermanent(err):
		return pushResult{status: http.StatusBadRequest, msg: err.Error()}
	case pipeline.IsThrottled(err):
		return pushResult{status: http.StatusTooManyRequests, msg: err.Error(), retryAfter: h.retryAfter(err)}
	default:
		// Not running, store failure, cancelled: nothing committed, retryable.
		return pushResult{status: http.StatusServiceUnavailable, msg: "store logs: " + err.Error(), retryAfter: h.retryAfter(err)}
	}
}

func (h *pushHandler) retryAfter(err error) time.Duration {
	if d, ok := pipeline.RetryAfter(err); ok && d > 0 {
		return d
	}
	return h.opts.DefaultRetryAfter
}

func (h *pushHandler) tooLarge() pushResult {
	return pushResult{status: http.StatusRequestEntityTooLarge,
		msg: fmt.Sprintf("request body larger than %d bytes (limit max_request_bytes)", h.opts.MaxRequestBytes)}
}

// requestFormat tells JSON from protobuf. Loki treats a missing Content-Type as protobuf.
func requestFormat(contentType string) (isJSON bool, err error) {
	if strings.TrimSpace(contentType) == "" {
		return false, nil
	}
	mt, _, perr := mime.ParseMediaType(contentType)
	if perr == nil {
		switch strings.ToLower(mt) {
		case "application/json":
			return true, nil
		case "application/x-protobuf", "application/protobuf":
			return false, nil
		}
	}
	return false, fmt.Errorf("unsupported Content-Type %q, want application/x-protobuf (snappy-compressed) or application/json", clip(contentType))
}

// readBody reads the body, undoing a gzip or deflate Content-Encoding, refusing more than
// MaxRequestBytes before or after decompression. "snappy" is accepted for protobuf bodies,
// as Loki does: they are always snappy-compressed and decoded later.
func (h *pushHandler) readBody(r *http.Request, isJSON bool) ([]byte, *pushResult) {
	o := httpbody.Options{Limit: h.opts.MaxRequestBytes}
	if !isJSON {
		o.Decoders = map[string]httpbody.Decoder{"snappy": nil}
	}
	var buf bytes.Buffer
	err := httpbody.Read(r, &buf, o)
	var ue *httpbody.UnsupportedError
	switch {
	case errors.Is(err, httpbody.ErrTooLarge):
		res := h.tooLarge()
		return nil, &res
	case errors.As(err, &ue):
		return nil, &pushResult{status: http.StatusUnsupportedMediaType,
			msg: fmt.Sprintf("unsupported Content-Encoding %q, want gzip, deflate, none, or snappy for protobuf", clip(ue.Encoding))}
	case err != nil:
		// A *httpbody.CorruptError says "decompress <encoding> body: ...", others "read body: ...".
		return nil, &pushResult{status: http.StatusBadRequest, msg: err.Error()}
	}
	return buf.Bytes(), nil
}

type metrics struct {
	requests *prometheus.CounterVec
	entries  prometheus.Counter
	bytes    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, logger *slog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_loki_push_requests_total",
			Help: "Loki push requests by response status code.",
		}, []string{"code"}),
		entries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_loki_push_entries_total",
			Help: "Log entries received over Loki push and committed.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_loki_push_received_bytes_total",
			Help: "Bytes of Loki push bodies after Content-Encoding decompression (protobuf bodies still snappy-compressed).",
		}),
	}
	m.requests = selfmetrics.Register(reg, logger, m.requests)
	m.entries = selfmetrics.Register(reg, logger, m.entries)
	m.bytes = selfmetrics.Register(reg, logger, m.bytes)
	return m
}
