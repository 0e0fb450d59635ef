// Package pyroscope receives profiles pushed with Pyroscope's HTTP API (POST /ingest), as
// pyroscope-go and the other Pyroscope SDKs and agents send them, and writes them to the
// profile store.
package pyroscope

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/ingest/httpbody"
	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/profile/pprofconv"
	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// Path is where Pyroscope clients push: mount the handler there, at the root of the HTTP
// port, so that a Pyroscope server address works unchanged.
const Path = "/ingest"

// Options configure the handler. Start from DefaultOptions.
type Options struct {
	// MaxRequestBytes bounds a request body as sent and after Content-Encoding; 413 beyond.
	MaxRequestBytes int64
	// Limits bound each profile (pprofconv.Limits); 413 naming the limit beyond.
	Limits      pprofconv.Limits
	LabelLimits labellimit.Limits
	// MaxInFlight is how many requests may be converted and written at once; more get 429
	// with Retry-After, so that a burst of uploads cannot hold unbounded memory.
	MaxInFlight int
	// RetryAfter is sent with 429 and 503.
	RetryAfter time.Duration
	// WriteTimeout bounds one store write.
	WriteTimeout time.Duration
	// Tenant, when set, takes each upload from the tenant's limits (tenants.limits: one
	// item per stored profile, the decoded body's bytes) before it is stored; a refusal
	// is 429 naming the limit. pipeline.Pipeline's AdmitTenant.
	Tenant tenant.Admitter
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		MaxRequestBytes: 16 << 20,
		Limits:          pprofconv.DefaultLimits(),
		LabelLimits:     labellimit.Default(),
		MaxInFlight:     8,
		RetryAfter:      time.Second,
		WriteTimeout:    30 * time.Second,
	}
}

// Handler implements POST /ingest.
type Handler struct {
	w      store.ProfileWriter
	opts   Options
	logger *slog.Logger
	slots  chan struct{}
	now    func() time.Time

	requests *prometheus.CounterVec
	samples  prometheus.Counter
}

// NewHandler returns the /ingest endpoint writing to w. Invalid options fall back to
// their defaults; a nil logger discards logs; a nil reg registers no metrics.
//
// Answers: 200 when every profile is stored (pyroscope-go treats anything else as a
// failure); 400 naming the parameter or the problem; 405 for other methods; 413 over
// max_request_bytes or a profile limit; 415 for a format Loupe does not read; 429 with
// Retry-After when MaxInFlight uploads are being handled; 503 with Retry-After when the
// store failed.
func NewHandler(w store.ProfileWriter, opts Options, logger *slog.Logger, reg prometheus.Registerer) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	def := DefaultOptions()
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = def.MaxRequestBytes
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = def.MaxInFlight
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = def.RetryAfter
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = def.WriteTimeout
	}
	h := &Handler{w: w, opts: opts, logger: logger, slots: make(chan struct{}, opts.MaxInFlight), now: time.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_pyroscope_ingest_requests_total",
			Help: "Pyroscope /ingest requests by response status code.",
		}, []string{"code"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loupe_pyroscope_ingest_samples_total",
			Help: "Profile samples (distinct stacks per type and series) received over /ingest and stored.",
		}),
	}
	h.requests = selfmetrics.Register(reg, logger, h.requests)
	h.samples = selfmetrics.Register(reg, logger, h.samples)
	return h
}

type result struct {
	status  int
	msg     string
	samples int
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res := h.handle(r)
	h.requests.WithLabelValues(strconv.Itoa(res.status)).Inc()
	h.samples.Add(float64(res.samples))
	switch res.status {
	case http.StatusOK:
		w.WriteHeader(http.StatusOK)
		return
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(h.opts.RetryAfter.Seconds()))))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	}
	if res.status >= 500 {
		h.logger.Warn("pyroscope ingest failed", "status", res.status, "err", res.msg)
	} else {
		h.logger.Debug("pyroscope ingest rejected", "status", res.status, "err", res.msg)
	}
	http.Error(w, res.msg, res.status)
}

func bad(format string, a ...any) result {
	return result{status: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

func (h *Handler) handle(r *http.Request) result {
	if r.Method != http.MethodPost {
		return result{status: http.StatusMethodNotAllowed, msg: fmt.Sprintf("method %s not allowed, use POST", r.Method)}
	}
	q := r.URL.Query()
	name, err := parseName(q.Get("name"))
	if err != nil {
		return bad("parameter name: %v", err)
	}
	now := h.now()
	from, err := parseTime(q.Get("from"), now)
	if err != nil {
		return bad("parameter from: %v", err)
	}
	until, err := parseTime(q.Get("until"), now)
	if err != nil {
		return bad("parameter until: %v", err)
	}
	if until.Before(from) {
		// pyroscope-go's last upload (Flush, Stop) sends an until rounded down to the
		// second before a from that is not: a profile of no known length, not an error.
		until = from
	}
	f, err := parseFormat(q.Get("format"))
	var unsupported errUnsupportedFormat
	switch {
	case errors.As(err, &unsupported):
		return result{status: http.StatusUnsupportedMediaType, msg: "parameter format: " + err.Error()}
	case err != nil:
		return bad("parameter format: %v", err)
	}
	var sampleRate int64
	if s := q.Get("sampleRate"); s != "" {
		if sampleRate, err = strconv.ParseInt(s, 10, 64); err != nil || sampleRate < 0 || sampleRate > 1e9 {
			return bad("parameter sampleRate: %.32q is not an integer in [0, 1e9] (Hz)", s)
		}
	}
	if spy := q.Get("spyName"); spy != "" {
		name.labels["pyroscope_spy"] = spy
	}

	// Admission before the body is read: a full server refuses cheaply.
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		return result{status: http.StatusTooManyRequests, msg: fmt.Sprintf("%d profile uploads in progress, retry later", h.opts.MaxInFlight)}
	}
	var body bytes.Buffer
	if err := httpbody.Read(r, &body, httpbody.Options{Limit: h.opts.MaxRequestBytes}); err != nil {
		var unsup *httpbody.UnsupportedError
		switch {
		case errors.Is(err, httpbody.ErrTooLarge):
			return result{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body larger than %d bytes (limit max_request_bytes)", h.opts.MaxRequestBytes)}
		case errors.As(err, &unsup):
			return result{status: http.StatusUnsupportedMediaType, msg: err.Error()}
		}
		return bad("%v", err)
	}

	ps, err := h.convert(r.Header.Get("Content-Type"), body.Bytes(), f, name, from, until, sampleRate)
	var le *pprofconv.LimitError
	switch {
	case errors.As(err, &le):
		return result{status: http.StatusRequestEntityTooLarge, msg: err.Error()}
	case err != nil:
		return bad("%v", err)
	case len(ps) == 0:
		return result{status: http.StatusOK}
	}
	if h.opts.Tenant != nil {
		if err := h.opts.Tenant.AdmitTenant(string(store.SignalProfiles), len(ps), int64(body.Len())); err != nil {
			return result{status: http.StatusTooManyRequests, msg: err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.WriteTimeout)
	defer cancel()
	if err := h.w.WriteProfiles(ctx, ps); err != nil {
		if errors.Is(err, store.ErrBusy) { // a slow store (ClickHouse's insert limits)
			return result{status: http.StatusTooManyRequests, msg: "store profiles: " + err.Error()}
		}
		return result{status: http.StatusServiceUnavailable, msg: "store profiles: " + err.Error()}
	}
	n := 0
	for _, p := range ps {
		n += len(p.Samples)
	}
	return result{status: http.StatusOK, samples: n}
}

// convert decodes the body as f says (or as its Content-Type and first bytes suggest).
func (h *Handler) convert(contentType string, body []byte, f format, name appName, from, until time.Time, sampleRate int64) ([]store.Profile, error) {
	mediaType, params, _ := mime.ParseMediaType(contentType)
	multi := strings.HasPrefix(mediaType, "multipart/")
	if f == formatAuto {
		switch {
		case multi, strings.HasSuffix(mediaType, "+pprof"), pprofconv.IsGzip(body):
			f = formatPprof
		case strings.HasSuffix(mediaType, "+lines"):
			f = formatLines
		case strings.HasSuffix(mediaType, "+trie"), strings.HasSuffix(mediaType, "+tree"):
			return nil, errUnsupportedFormat(mediaType)
		default:
			f = formatFolded
		}
	}
	if f != formatPprof {
		return pprofconv.ParseFolded(body, pprofconv.FoldedOptions{
			Labels: name.labels, Suffix: name.suffix, SampleRate: sampleRate, Lines: f == formatLines,
			Time: from, Duration: until.Sub(from), Limits: h.opts.Limits, LabelLimits: h.opts.LabelLimits,
		})
	}
	o := pprofconv.Options{Labels: name.labels, Kind: pprofconv.KindOfSuffix(name.suffix),
		Time: from, Duration: until.Sub(from), Limits: h.opts.Limits, LabelLimits: h.opts.LabelLimits}
	raw, prevRaw := body, []byte(nil)
	if multi {
		parts, err := readParts(body, params["boundary"])
		if err != nil {
			return nil, err
		}
		raw, prevRaw = parts.profile, parts.prev
		if len(parts.sampleTypes) > 0 {
			if err := json.Unmarshal(parts.sampleTypes, &o.SampleTypes); err != nil {
				return nil, fmt.Errorf("multipart part sample_type_config: %v", err)
			}
		}
	}
	p, err := pprofconv.Parse(raw, h.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	var prev *profile.Profile
	if len(prevRaw) > 0 {
		if prev, err = pprofconv.Parse(prevRaw, h.opts.Limits); err != nil {
			return nil, fmt.Errorf("prev_profile: %w", err)
		}
	}
	return pprofconv.Convert(p, prev, o)
}

type parts struct {
	profile, prev, sampleTypes []byte
}

// readParts reads pyroscope-go's multipart form: profile, and optionally prev_profile and
// sample_type_config. Other parts are ignored. The body is already in memory and bounded.
func readParts(body []byte, boundary string) (parts, error) {
	if boundary == "" {
		return parts{}, errors.New("multipart Content-Type without a boundary")
	}
	var ps parts
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return parts{}, fmt.Errorf("read multipart body: %v", err)
		}
		var dst *[]byte
		switch part.FormName() {
		case "profile":
			dst = &ps.profile
		case "prev_profile":
			dst = &ps.prev
		case "sample_type_config":
			dst = &ps.sampleTypes
		default:
			continue
		}
		if *dst, err = io.ReadAll(part); err != nil {
			return parts{}, fmt.Errorf("read multipart part %s: %v", part.FormName(), err)
		}
	}
	if len(ps.profile) == 0 {
		return parts{}, errors.New("multipart body has no profile part (or it is empty)")
	}
	return ps, nil
}
