package prom

import (
	"context"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// Admitter grants room for samples before they are appended, so that remote write shares
// the metric ingest budget (limits.queue_items) with OTLP metrics: pipeline.Pipeline's
// AdmitMetrics. A refusal is a *pipeline.ThrottleError.
type Admitter interface {
	AdmitMetrics(ctx context.Context, path string, items int, wait bool) (release func(), err error)
}

// admit reserves room for n samples of one request, decoded to size bytes. nil release
// and false mean the request was answered: 503 with Retry-After when there is no room.
// 503 rather than 429: Prometheus retries 5xx (honouring Retry-After) but drops a batch
// answered 429 unless its remote_write sets retry_on_http_429. A tenant's limit, though,
// is 429 naming it, as Mimir answers its ingestion rate limit.
func (h *writeLimitHandler) admit(w http.ResponseWriter, r *http.Request, n, size int) (release func(), ok bool) {
	if h.admitter == nil || n == 0 {
		return func() {}, true
	}
	release, err := h.admitter.AdmitMetrics(r.Context(), pipeline.PathRemoteWrite, n, false)
	if err == nil {
		// An Admitter that is a tenant.Admitter too is asked after AdmitMetrics granted room.
		ta, limited := h.admitter.(tenant.Admitter)
		if !limited {
			return release, true
		}
		if err = ta.AdmitTenant("metrics", n, int64(size)); err == nil {
			return release, true
		}
		release()
		le, _ := tenant.AsLimit(err)
		if le != nil && le.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(le.RetryAfter.Seconds()))))
		}
		http.Error(w, fmt.Sprintf("remote write of %d samples refused: %v", n, err), http.StatusTooManyRequests)
		return nil, false
	}
	if d, ok := pipeline.RetryAfter(err); ok && d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	status := http.StatusServiceUnavailable
	if !errors.Is(err, pipeline.ErrQueueFull) && !errors.Is(err, pipeline.ErrNotRunning) {
		status = http.StatusInternalServerError
	}
	http.Error(w, fmt.Sprintf("remote write of %d samples refused, retry later: %v", n, err), status)
	return nil, false
}

// isRemoteWriteV2 reports whether a request's Content-Type names remote write 2.0.
func isRemoteWriteV2(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-protobuf" && params["proto"] == "io.prometheus.write.v2.Request"
}

// countV2 returns how many samples and histograms a snappy-compressed remote write 2.0
// request holds, reading the protobuf wire format without decoding it (Prometheus'
// handler decodes it after). buf is scratch space for the decompressed body; the grown
// buffer is returned.
func countV2(body, buf []byte) (int, []byte, error) {
	decoded, err := snappy.Decode(buf[:cap(buf)], body)
	if err != nil {
		return 0, buf, fmt.Errorf("decode snappy body: %w", err)
	}
	n, err := countV2Series(decoded)
	return n, decoded, err
}

// countV2Series counts the samples (field 2) and histograms (field 3) of every
// TimeSeries (field 5) of a decoded io.prometheus.write.v2.Request.
func countV2Series(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("remote write 2.0 request: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == 5 && typ == protowire.BytesType {
			series, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, fmt.Errorf("remote write 2.0 time series: %w", protowire.ParseError(n))
			}
			b = b[n:]
			k, err := countV2Points(series)
			if err != nil {
				return 0, err
			}
			total += k
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, fmt.Errorf("remote write 2.0 request field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return total, nil
}

func countV2Points(b []byte) (int, error) {
	count := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("remote write 2.0 time series: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if (num == 2 || num == 3) && typ == protowire.BytesType {
			count++
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, fmt.Errorf("remote write 2.0 time series field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return count, nil
}

// admitV2 counts the points of a remote write 2.0 request and reserves room for them.
// A body that cannot be counted goes on unreserved: Prometheus' handler refuses it.
func (h *writeLimitHandler) admitV2(w http.ResponseWriter, r *http.Request, body []byte) (release func(), ok bool) {
	if h.admitter == nil || !isRemoteWriteV2(r.Header.Get("Content-Type")) {
		return func() {}, true
	}
	bp := h.bufs.Get().(*[]byte)
	n, decoded, err := countV2(body, *bp)
	if cap(decoded) <= 4<<20 { // keep buffers of common sizes only
		*bp = decoded[:0]
	}
	h.bufs.Put(bp)
	if err != nil {
		return func() {}, true
	}
	return h.admit(w, r, n, len(decoded))
}
