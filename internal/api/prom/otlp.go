package prom

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/loupe-dev/loupe/internal/store"
)

// otlpHandler is Prometheus' /api/v1/otlp/v1/metrics endpoint, speaking OTLP/HTTP
// (protobuf or JSON, optionally gzipped) and writing through a store.MetricWriter.
// Unlike Prometheus' handler it answers with an OTLP ExportMetricsServiceResponse, so
// points the store rejects come back as a partial success instead of failing the request.
type otlpHandler struct {
	writer   store.MetricWriter
	maxBytes int64
	logger   *slog.Logger
}

const (
	contentTypeProtobuf = "application/x-protobuf"
	contentTypeJSON     = "application/json"
)

func (h *otlpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	asJSON := mediaType == contentTypeJSON
	if !asJSON && mediaType != contentTypeProtobuf {
		h.fail(w, false, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("unsupported content type %q, want %s or %s", r.Header.Get("Content-Type"), contentTypeProtobuf, contentTypeJSON))
		return
	}

	body := io.Reader(r.Body)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			h.fail(w, asJSON, http.StatusBadRequest, codes.InvalidArgument, "bad gzip body: "+err.Error())
			return
		}
		defer gz.Close()
		body = gz
	default:
		h.fail(w, asJSON, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("unsupported content encoding %q, want gzip or none", enc))
		return
	}
	buf, err := io.ReadAll(io.LimitReader(body, h.maxBytes+1))
	if err != nil {
		h.fail(w, asJSON, http.StatusBadRequest, codes.InvalidArgument, "read body: "+err.Error())
		return
	}
	if int64(len(buf)) > h.maxBytes {
		h.fail(w, asJSON, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
			fmt.Sprintf("request body is larger than %d bytes", h.maxBytes))
		return
	}

	req := pmetricotlp.NewExportRequest()
	if asJSON {
		err = req.UnmarshalJSON(buf)
	} else {
		err = req.UnmarshalProto(buf)
	}
	if err != nil {
		h.fail(w, asJSON, http.StatusBadRequest, codes.InvalidArgument, "decode OTLP metrics: "+err.Error())
		return
	}

	resp := pmetricotlp.NewExportResponse()
	var perr *store.PartialError
	switch err := h.writer.WriteMetrics(r.Context(), req.Metrics()); {
	case err == nil:
	case errors.As(err, &perr):
		resp.PartialSuccess().SetRejectedDataPoints(perr.Rejected)
		resp.PartialSuccess().SetErrorMessage(perr.Msg)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		h.fail(w, asJSON, http.StatusServiceUnavailable, codes.Unavailable, "write metrics: "+err.Error())
		return
	default:
		// A storage failure: the batch was rolled back and may be retried.
		h.logger.Error("write OTLP metrics", "err", err)
		h.fail(w, asJSON, http.StatusServiceUnavailable, codes.Unavailable, "write metrics: "+err.Error())
		return
	}

	var out []byte
	if asJSON {
		out, err = resp.MarshalJSON()
	} else {
		out, err = resp.MarshalProto()
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h.write(w, asJSON, http.StatusOK, out)
}

// fail answers with a google.rpc.Status body, as OTLP/HTTP specifies for errors.
func (h *otlpHandler) fail(w http.ResponseWriter, asJSON bool, httpCode int, code codes.Code, msg string) {
	st := &spb.Status{Code: int32(code), Message: msg}
	var out []byte
	var err error
	if asJSON {
		out, err = protojson.Marshal(st)
	} else {
		out, err = proto.Marshal(st)
	}
	if err != nil {
		http.Error(w, msg, httpCode)
		return
	}
	if httpCode == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	h.write(w, asJSON, httpCode, out)
}

func (h *otlpHandler) write(w http.ResponseWriter, asJSON bool, code int, body []byte) {
	ct := contentTypeProtobuf
	if asJSON {
		ct = contentTypeJSON
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(code)
	if _, err := w.Write(body); err != nil {
		h.logger.Debug("write OTLP response", "err", err)
	}
}
