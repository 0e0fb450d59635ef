package otlp

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/loupe-dev/loupe/internal/ingest/httpbody"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// httpResult is what one request answers; writeResult turns it into a response.
type httpResult struct {
	status     int
	body       []byte
	enc        encoding
	retryAfter time.Duration // > 0: Retry-After header
	allow      bool          // 405: Allow header
}

// httpError carries a status for failures before the data reaches the consumer.
type httpError struct {
	status int
	msg    string
}

type httpHandler struct {
	consumer pipeline.Consumer
	maxBytes int64
	m        *receiverMetrics
	body     httpbody.Options
	bufs     sync.Pool // *bytes.Buffer; pdata copies what it keeps, so bodies are reusable
}

func newHTTPHandler(c pipeline.Consumer, maxBytes int64, m *receiverMetrics) http.Handler {
	h := &httpHandler{consumer: c, maxBytes: maxBytes, m: m, body: bodyOptions(maxBytes)}
	h.bufs.New = func() any { return new(bytes.Buffer) }
	mux := http.NewServeMux()
	for _, s := range signals {
		mux.HandleFunc(s.path, func(w http.ResponseWriter, r *http.Request) {
			res := h.handle(r, s)
			h.m.requests.WithLabelValues("http", s.name, strconv.Itoa(res.status)).Inc()
			writeResult(w, res)
		})
	}
	return mux
}

// handle answers one export request per the OTLP/HTTP specification.
func (h *httpHandler) handle(r *http.Request, s signal) httpResult {
	enc, encErr := requestEncoding(r.Header.Get("Content-Type"))
	if r.Method != http.MethodPost {
		res := statusResult(http.StatusMethodNotAllowed, codes.Unimplemented,
			fmt.Sprintf("method %s not allowed, use POST", r.Method), enc, 0)
		res.allow = true
		return res
	}
	if encErr != nil {
		return statusResult(http.StatusUnsupportedMediaType, codes.InvalidArgument, encErr.Error(), enc, 0)
	}

	buf := h.bufs.Get().(*bytes.Buffer)
	defer h.putBuf(buf)
	if he := h.readBody(r, buf); he != nil {
		return statusResult(he.status, codes.InvalidArgument, he.msg, enc, 0)
	}
	h.m.bytes.WithLabelValues("http", s.name).Add(float64(buf.Len()))

	body, err := s.export(r.Context(), h.consumer, buf.Bytes(), enc)
	if err != nil {
		return errorResult(err, enc)
	}
	return httpResult{status: http.StatusOK, body: body, enc: enc}
}

func (h *httpHandler) putBuf(b *bytes.Buffer) {
	if b.Cap() > 4<<20 { // do not keep rare huge buffers alive
		return
	}
	b.Reset()
	h.bufs.Put(b)
}

// errorResult maps an export error to a status, as the OTLP specification asks.
func errorResult(err error, enc encoding) httpResult {
	var de *decodeError
	switch {
	case errors.As(err, &de):
		return statusResult(http.StatusBadRequest, codes.InvalidArgument, de.msg, enc, 0)
	case pipeline.IsPermanent(err):
		return statusResult(http.StatusBadRequest, codes.InvalidArgument, clean(err.Error()), enc, 0)
	case errors.Is(err, tenant.ErrLimit):
		le, _ := tenant.AsLimit(err)
		return statusResult(http.StatusTooManyRequests, codes.ResourceExhausted, tenantLimitMessage(err), enc, le.RetryAfter)
	case errors.Is(err, pipeline.ErrStreamLimit):
		return statusResult(http.StatusTooManyRequests, codes.ResourceExhausted, streamLimitMessage(err), enc, 0)
	case pipeline.IsThrottled(err):
		d, _ := pipeline.RetryAfter(err)
		return statusResult(http.StatusTooManyRequests, codes.Unavailable, err.Error(), enc, d)
	default:
		// Not running, store failure, timeout: retryable.
		d, _ := pipeline.RetryAfter(err)
		return statusResult(http.StatusServiceUnavailable, codes.Unavailable, clean(err.Error()), enc, d)
	}
}

func requestEncoding(contentType string) (encoding, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err == nil {
		switch strings.ToLower(mt) {
		case "application/x-protobuf":
			return encProto, nil
		case "application/json":
			return encJSON, nil
		}
	}
	return encProto, fmt.Errorf("unsupported Content-Type %q, want application/x-protobuf or application/json", clean(contentType))
}

// readBody reads the body into buf, decompressing it, and refuses more than maxBytes
// before or after decompression, so that a small compressed bomb cannot exhaust memory.
func (h *httpHandler) readBody(r *http.Request, buf *bytes.Buffer) *httpError {
	err := httpbody.Read(r, buf, h.body)
	var ue *httpbody.UnsupportedError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, httpbody.ErrTooLarge):
		return &httpError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body larger than %d bytes (limit max_request_bytes)", h.maxBytes)}
	case errors.As(err, &ue):
		return &httpError{status: http.StatusUnsupportedMediaType,
			msg: fmt.Sprintf("unsupported Content-Encoding %q, want gzip, deflate, zstd or none", clean(ue.Encoding))}
	default:
		// A *httpbody.CorruptError says "decompress <encoding> body: ...", others "read body: ...".
		return &httpError{status: http.StatusBadRequest, msg: clean(err.Error())}
	}
}

// bodyOptions are the encodings OTLP/HTTP accepts beyond httpbody's: zstd, and "zlib" as
// the Collector's confighttp accepts it.
func bodyOptions(maxBytes int64) httpbody.Options {
	return httpbody.Options{Limit: maxBytes, Decoders: map[string]httpbody.Decoder{
		"zlib": zlib.NewReader,
		"zstd": func(r io.Reader) (io.ReadCloser, error) {
			zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxMemory(uint64(maxBytes)), zstd.WithDecoderMaxWindow(uint64(min(max(maxBytes, 1<<10), 1<<27))))
			if err != nil {
				return nil, err
			}
			return zr.IOReadCloser(), nil
		},
	}}
}

// statusResult builds an error response whose body is a google.rpc.Status, in the
// request's encoding, with a RetryInfo detail when the client should retry later.
func statusResult(httpStatus int, code codes.Code, msg string, enc encoding, retryAfter time.Duration) httpResult {
	st := &spb.Status{Code: int32(code), Message: msg}
	if retryAfter > 0 {
		if detail, err := anypb.New(&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)}); err == nil {
			st.Details = append(st.Details, detail)
		}
	}
	var body []byte
	var err error
	if enc == encJSON {
		body, err = protojson.Marshal(st)
	} else {
		body, err = proto.Marshal(st)
	}
	if err != nil {
		body = nil // msg is cleaned to valid UTF-8, so this does not happen
	}
	return httpResult{status: httpStatus, body: body, enc: enc, retryAfter: retryAfter}
}

func writeResult(w http.ResponseWriter, res httpResult) {
	if res.enc == encJSON {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	if res.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(res.retryAfter.Seconds()))))
	}
	if res.allow {
		w.Header().Set("Allow", http.MethodPost)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}
