package otlp

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/internal/ingest/jsondepth"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// decodeError is a request body that is not a valid OTLP message. It maps to HTTP 400 and
// gRPC INVALID_ARGUMENT.
type decodeError struct {
	msg string
}

func (e *decodeError) Error() string { return e.msg }

// encoding is how a request body (and its response) is serialised.
type encoding int

const (
	encProto encoding = iota
	encJSON
)

// signal is one OTLP export service.
type signal struct {
	name string // "traces", "logs", "metrics": the label of self-metrics
	path string // HTTP path
	// export decodes body, hands the data to c and returns the encoded ExportResponse
	// (with partial_success filled in when items were rejected), or an error: a
	// *decodeError or the consumer's error.
	export func(ctx context.Context, c pipeline.Consumer, body []byte, enc encoding) ([]byte, error)
}

var signals = []signal{
	{name: "traces", path: "/v1/traces", export: exportTraces},
	{name: "logs", path: "/v1/logs", export: exportLogs},
	{name: "metrics", path: "/v1/metrics", export: exportMetrics},
}

type otlpMessage interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
}

type otlpResponse interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

func exportTraces(ctx context.Context, c pipeline.Consumer, body []byte, enc encoding) ([]byte, error) {
	req := ptraceotlp.NewExportRequest()
	if err := decode(req, body, enc); err != nil {
		return nil, err
	}
	resp := ptraceotlp.NewExportResponse()
	if err := c.ConsumeTraces(ctx, req.Traces()); err != nil {
		pe, ok := partial(err)
		if !ok {
			return nil, err
		}
		resp.PartialSuccess().SetRejectedSpans(pe.Rejected)
		resp.PartialSuccess().SetErrorMessage(pe.Msg)
	}
	return encode(resp, enc)
}

func exportLogs(ctx context.Context, c pipeline.Consumer, body []byte, enc encoding) ([]byte, error) {
	req := plogotlp.NewExportRequest()
	if err := decode(req, body, enc); err != nil {
		return nil, err
	}
	resp := plogotlp.NewExportResponse()
	if err := c.ConsumeLogs(ctx, req.Logs()); err != nil {
		pe, ok := partial(err)
		if !ok || errors.Is(err, pipeline.ErrStreamLimit) { // 429 / RESOURCE_EXHAUSTED, as Loki push
			return nil, err
		}
		resp.PartialSuccess().SetRejectedLogRecords(pe.Rejected)
		resp.PartialSuccess().SetErrorMessage(pe.Msg)
	}
	return encode(resp, enc)
}

func exportMetrics(ctx context.Context, c pipeline.Consumer, body []byte, enc encoding) ([]byte, error) {
	req := pmetricotlp.NewExportRequest()
	if err := decode(req, body, enc); err != nil {
		return nil, err
	}
	resp := pmetricotlp.NewExportResponse()
	if err := c.ConsumeMetrics(ctx, req.Metrics()); err != nil {
		pe, ok := partial(err)
		if !ok || errors.Is(err, tenant.ErrLimit) { // new series over max_series: 429 / RESOURCE_EXHAUSTED
			return nil, err
		}
		resp.PartialSuccess().SetRejectedDataPoints(pe.Rejected)
		resp.PartialSuccess().SetErrorMessage(pe.Msg)
	}
	return encode(resp, enc)
}

// streamLimitMessage says what a partial success refused for the stream limit means: the
// other records are stored, so a client that sends the request again stores them twice.
func streamLimitMessage(err error) string {
	return clean(err.Error()) + "; the other records of the request are stored"
}

// tenantLimitMessage says what a refusal for a tenant's limit (tenants.limits) means;
// only max_series refuses part of a request, whose other points are stored.
func tenantLimitMessage(err error) string {
	if _, ok := partial(err); ok {
		return clean(err.Error()) + "; the other points of the request are stored"
	}
	return clean(err.Error())
}

func partial(err error) (*store.PartialError, bool) {
	var pe *store.PartialError
	ok := errors.As(err, &pe)
	return pe, ok
}

func decode(m otlpMessage, body []byte, enc encoding) error {
	if enc == encJSON {
		if jsondepth.Exceeds(body, maxNesting) {
			return &decodeError{msg: fmt.Sprintf("decode json: objects and arrays nested deeper than %d levels", maxNesting)}
		}
		if err := m.UnmarshalJSON(body); err != nil {
			return &decodeError{msg: "decode json: " + describeJSONError(body, err)}
		}
		return nil
	}
	if protoTooDeep(body, maxNesting) {
		return &decodeError{msg: fmt.Sprintf("decode protobuf: messages nested deeper than %d levels", maxNesting)}
	}
	if err := m.UnmarshalProto(body); err != nil {
		return &decodeError{msg: "decode protobuf: " + clean(err.Error())}
	}
	return nil
}

func encode(r otlpResponse, enc encoding) ([]byte, error) {
	var b []byte
	var err error
	if enc == encJSON {
		b, err = r.MarshalJSON()
	} else {
		b, err = r.MarshalProto()
	}
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return b, nil
}

// idField finds hex ids in OTLP JSON, in the camelCase the spec requires and the
// snake_case some clients send.
var idField = regexp.MustCompile(`"(traceId|spanId|parentSpanId|trace_id|span_id|parent_span_id)"\s*:\s*"([^"]*)"`)

// describeJSONError turns the decoder's "length mismatch" for an id into a message that
// names the field and the length, e.g. `invalid trace_id "0102": 2 bytes, want 16`.
func describeJSONError(body []byte, err error) string {
	msg := err.Error()
	if !strings.Contains(msg, "ID.UnmarshalJSONIter") {
		return clean(msg)
	}
	for _, m := range idField.FindAllSubmatch(body, -1) {
		name, val := string(m[1]), m[2]
		want := 8
		if strings.HasPrefix(strings.ToLower(name), "trace") {
			want = 16
		}
		if len(val) == 0 {
			continue
		}
		field := snakeCase(name)
		if len(val) != 2*want {
			return fmt.Sprintf("invalid %s %q: %d hex digits (%d bytes), want %d hex digits (%d bytes)",
				field, clean(string(val)), len(val), len(val)/2, 2*want, want)
		}
		for _, ch := range val {
			if !strings.ContainsRune("0123456789abcdefABCDEF", rune(ch)) {
				return fmt.Sprintf("invalid %s %q: not hex", field, clean(string(val)))
			}
		}
	}
	return clean(msg)
}

func snakeCase(s string) string {
	switch s {
	case "traceId":
		return "trace_id"
	case "spanId":
		return "span_id"
	case "parentSpanId":
		return "parent_span_id"
	}
	return s
}

// clean makes a decoder message safe for a protobuf string (valid UTF-8) and short: the
// JSON decoder quotes parts of the body, which may be binary or huge.
func clean(s string) string {
	const maxLen = 512
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxLen {
		s = strings.ToValidUTF8(s[:maxLen], "") + "..."
	}
	return s
}
