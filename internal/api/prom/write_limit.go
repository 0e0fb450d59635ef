package prom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// maxAheadTime is how far in the future a remote-written sample may be, as in
// Prometheus' write handler: a clock far ahead would block every later sample of a series.
const maxAheadTime = 10 * time.Minute

// maxReportedErrors bounds how many rejected series a 400 answer lists.
const maxReportedErrors = 10

// Reasons a whole remote write request is refused, and reasons a sample is rejected, as
// labels of the loupe_remote_write_* metrics.
const (
	reasonBodyTooLarge    = "body_too_large"
	reasonDecodedTooLarge = "decoded_too_large"
	reasonBadBody         = "bad_body"
	reasonInvalidLabels   = "invalid_labels"
	reasonOutOfOrder      = "out_of_order"
	reasonTooOld          = "too_old"
	reasonTooNew          = "too_new"
	reasonDuplicate       = "duplicate"
	reasonInvalidSample   = "invalid_sample"
)

// writeLimitHandler serves /api/v1/write in front of Prometheus' remote write handler
// (next). It bounds what a request may cost before anything is decoded: the body as sent
// and the size the snappy header declares are both limited to maxBytes (413 above, before
// any allocation of that size). Remote write 1.0 requests are then written here, so that
// series that cannot be stored are reported to the client (400 naming them, after the
// others are written, as Prometheus does for 2.0) rather than dropped with a server log;
// 2.0 requests go on to Prometheus' handler, which does that already, through an
// Appendable that applies the same label limits.
type writeLimitHandler struct {
	next     http.Handler
	app      storage.Appendable // already wrapped with the label limits
	maxBytes int64
	limits   labellimit.Limits
	logger   *slog.Logger
	now      func() time.Time
	meta     MetadataRecorder // keeps WriteRequest.Metadata (write_metadata.go); may be nil
	admitter Admitter         // room for the samples before appending (write_admit.go); may be nil

	refused  *prometheus.CounterVec // whole requests, by reason
	rejected *prometheus.CounterVec // samples, by reason

	bufs sync.Pool // *[]byte, decoded bodies; the appender copies what it keeps
}

// newWriteLimitHandler builds the handler over app; set next before serving.
func newWriteLimitHandler(app storage.Appendable, maxBytes int64, limits labellimit.Limits, logger *slog.Logger, reg prometheus.Registerer) *writeLimitHandler {
	h := &writeLimitHandler{
		maxBytes: maxBytes, limits: limits, logger: logger, now: time.Now,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_remote_write_refused_requests_total",
			Help: "Remote write requests refused whole before decoding, by reason (body_too_large, decoded_too_large, bad_body).",
		}, []string{"reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_remote_write_rejected_samples_total",
			Help: "Remote-written samples and histograms not stored, by reason (invalid_labels, too_many_labels, label_name_too_long, label_value_too_long, out_of_order, too_old, too_new, duplicate, invalid_sample); the request was answered 400 naming them.",
		}, []string{"reason"}),
	}
	h.refused = selfmetrics.Register(reg, logger, h.refused)
	h.rejected = selfmetrics.Register(reg, logger, h.rejected)
	h.app = limits.Appendable(commitRecording{app}, func(reason string) { h.rejected.WithLabelValues(reason).Inc() })
	h.bufs.New = func() any { return new([]byte) }
	return h
}

func (h *writeLimitHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "snappy") {
		http.Error(w, fmt.Sprintf("%s encoding (compression) is not accepted by this server; only snappy is acceptable", enc), http.StatusUnsupportedMediaType)
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.refuse(w, err)
		return
	}
	if !isRemoteWriteV1(r.Header.Get("Content-Type")) {
		// 2.0, or a content type Prometheus' handler refuses with its own message.
		release, ok := h.admitV2(w, r, body)
		if !ok {
			return
		}
		defer release()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		// 503, not Prometheus' 500, when the commit met a full disk (write_v2_status.go).
		r, outcome := withCommitOutcome(r)
		h.next.ServeHTTP(&v2StatusWriter{ResponseWriter: w, o: outcome}, r)
		return
	}
	h.writeV1(w, r, body)
}

// requestError is a request refused whole, with its status and metric reason.
type requestError struct {
	status int
	reason string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func (h *writeLimitHandler) refuse(w http.ResponseWriter, err error) {
	var re *requestError
	if !errors.As(err, &re) {
		re = &requestError{status: http.StatusBadRequest, reason: reasonBadBody, msg: err.Error()}
	}
	h.refused.WithLabelValues(re.reason).Inc()
	http.Error(w, re.msg, re.status)
}

// readBody reads the compressed body, at most maxBytes of it, growing the buffer as bytes
// arrive (never to a declared length), and checks the decoded length the snappy header
// declares against maxBytes.
func (h *writeLimitHandler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := &requestError{status: http.StatusRequestEntityTooLarge, reason: reasonBodyTooLarge,
		msg: fmt.Sprintf("remote write body larger than %d bytes (limit limits.max_request_bytes)", h.maxBytes)}
	if r.ContentLength > h.maxBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, fmt.Errorf("read remote write body: %w", err)
	}
	// The snappy block format starts with the decoded length as a uvarint; read it here
	// rather than with snappy.DecodedLen, which calls lengths of 4 GiB and more corrupt.
	n, k := binary.Uvarint(body)
	if k <= 0 {
		return nil, errors.New("decode snappy body: corrupt input (no decoded length)")
	}
	if n > uint64(h.maxBytes) {
		return nil, &requestError{status: http.StatusRequestEntityTooLarge, reason: reasonDecodedTooLarge,
			msg: fmt.Sprintf("remote write body decodes to %d bytes (snappy header), more than %d (limit limits.max_request_bytes)", n, h.maxBytes)}
	}
	return body, nil
}

// isRemoteWriteV1 reports whether a request is remote write 1.0: no Content-Type (old
// clients), or application/x-protobuf without a proto parameter or with the 1.0 one.
func isRemoteWriteV1(contentType string) bool {
	if strings.TrimSpace(contentType) == "" {
		return true
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-protobuf" {
		return false
	}
	proto, ok := params["proto"]
	return !ok || proto == "prometheus.WriteRequest"
}

// writeV1 decodes a remote write 1.0 request and appends it in one transaction. Series
// and samples the storage cannot take are skipped and the rest committed; the answer is
// then 400 naming them (the client must not retry them), else 204.
func (h *writeLimitHandler) writeV1(w http.ResponseWriter, r *http.Request, body []byte) {
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	decoded, err := snappy.Decode((*bp)[:cap(*bp)], body)
	if err != nil {
		h.refuse(w, fmt.Errorf("decode snappy body: %w", err))
		return
	}
	if cap(decoded) <= 4<<20 { // keep buffers of common sizes only
		*bp = decoded[:0]
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(decoded); err != nil {
		h.refuse(w, fmt.Errorf("decode remote write 1.0 protobuf: %w", err))
		return
	}
	recordV1Metadata(h.meta, req.Metadata, h.logger) // write_metadata.go

	points := 0
	for _, ts := range req.Timeseries {
		points += len(ts.Samples) + len(ts.Histograms)
	}
	release, ok := h.admit(w, r, points, len(decoded))
	if !ok {
		return
	}
	defer release()
	app := h.app.Appender(r.Context())
	rej := h.appendV1(app, req.Timeseries)
	if err := app.Commit(); err != nil {
		h.logger.Error("remote write commit", "err", err)
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrDiskFull) || errors.Is(err, store.ErrBusy) {
			status = http.StatusServiceUnavailable // retryable once space is freed, or the store keeps up
		}
		http.Error(w, "commit samples: "+err.Error(), status)
		return
	}
	if rej.total == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if rej.limited {
		// New series over the tenant's max_series: 429 naming the limit, the others stored.
		http.Error(w, rej.message(), http.StatusTooManyRequests)
		return
	}
	http.Error(w, rej.message(), http.StatusBadRequest)
}

// v1Rejections counts what one request could not store and keeps the first messages.
type v1Rejections struct {
	total   int
	msgs    []string
	limited bool // some for a tenant's limit (max_series)
}

func (h *writeLimitHandler) reject(rej *v1Rejections, reason string, n int, msg string) {
	if n <= 0 {
		return
	}
	if reason != "" { // "" when the label limit appender has counted it already
		h.rejected.WithLabelValues(reason).Add(float64(n))
	}
	rej.total += n
	if len(rej.msgs) < maxReportedErrors {
		rej.msgs = append(rej.msgs, msg)
	}
}

func (rej *v1Rejections) message() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d samples rejected, the others were written: %s", rej.total, strings.Join(rej.msgs, "; "))
	if rej.total > len(rej.msgs) {
		b.WriteString("; ...")
	}
	return b.String()
}

// appendV1 appends every sample, histogram and exemplar of series, skipping and
// counting what the storage refuses (appends only touch memory: a refusal is about the
// sample, and storage failures surface at Commit).
func (h *writeLimitHandler) appendV1(app storage.Appender, series []prompb.TimeSeries) *v1Rejections {
	rej := &v1Rejections{}
	maxT := h.now().Add(maxAheadTime).UnixMilli()
	b := labels.NewScratchBuilder(0)
	for _, ts := range series {
		ls := ts.ToLabels(&b, nil)
		points := len(ts.Samples) + len(ts.Histograms)
		if !ls.Has(labels.MetricName) || !ls.IsValid(model.UTF8Validation) {
			h.reject(rej, reasonInvalidLabels, points, "invalid metric name or labels: "+shortLabels(ls))
			continue
		}
		if dup, ok := ls.HasDuplicateLabelNames(); ok {
			h.reject(rej, reasonInvalidLabels, points, fmt.Sprintf("duplicate label %q in %s", dup, shortLabels(ls)))
			continue
		}
		var ref storage.SeriesRef
		for _, s := range ts.Samples {
			if s.Timestamp > maxT {
				h.reject(rej, reasonTooNew, 1, fmt.Sprintf("%s: sample more than %s in the future", shortLabels(ls), maxAheadTime))
				continue
			}
			r, err := app.Append(ref, ls, s.Timestamp, s.Value)
			if err != nil {
				h.rejectAppend(rej, ls, err)
				continue
			}
			ref = r
		}
		for _, hp := range ts.Histograms {
			if hp.Timestamp > maxT {
				h.reject(rej, reasonTooNew, 1, fmt.Sprintf("%s: histogram more than %s in the future", shortLabels(ls), maxAheadTime))
				continue
			}
			var r storage.SeriesRef
			var err error
			if hp.IsFloatHistogram() {
				r, err = app.AppendHistogram(ref, ls, hp.Timestamp, nil, hp.ToFloatHistogram())
			} else {
				r, err = app.AppendHistogram(ref, ls, hp.Timestamp, hp.ToIntHistogram(), nil)
			}
			if err != nil {
				h.rejectAppend(rej, ls, err)
				continue
			}
			ref = r
		}
		// Exemplars are best effort, as in Prometheus: never a reason to refuse a write.
		if ref != 0 {
			for _, ep := range ts.Exemplars {
				_, _ = app.AppendExemplar(ref, ls, ep.ToExemplar(&b, nil))
			}
		}
	}
	return rej
}

func (h *writeLimitHandler) rejectAppend(rej *v1Rejections, ls labels.Labels, err error) {
	var le *labellimit.Error
	switch {
	case errors.As(err, &le):
		h.reject(rej, "", 1, le.Msg)
	case errors.Is(err, tenant.ErrLimit): // counted by the metric store (loupe_metrics_rejected_total)
		rej.limited = true
		h.reject(rej, "", 1, fmt.Sprintf("%s: %v", shortLabels(ls), err))
	case errors.Is(err, storage.ErrOutOfOrderSample):
		h.reject(rej, reasonOutOfOrder, 1, fmt.Sprintf("%s: %v", shortLabels(ls), err))
	case errors.Is(err, storage.ErrTooOldSample), errors.Is(err, storage.ErrOutOfBounds):
		h.reject(rej, reasonTooOld, 1, fmt.Sprintf("%s: %v", shortLabels(ls), err))
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		h.reject(rej, reasonDuplicate, 1, fmt.Sprintf("%s: %v", shortLabels(ls), err))
	case errors.Is(err, tsdb.ErrInvalidSample):
		h.reject(rej, reasonInvalidLabels, 1, fmt.Sprintf("%s: %v", shortLabels(ls), err))
	default:
		h.reject(rej, reasonInvalidSample, 1, fmt.Sprintf("%s: %v", shortLabels(ls), err))
	}
}

// shortLabels prints a label set for an error message, cut so that a series with huge
// labels cannot make a huge answer.
func shortLabels(ls labels.Labels) string {
	s := ls.String()
	if len(s) > 256 {
		return s[:256] + "...}"
	}
	return s
}
