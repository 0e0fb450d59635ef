package otlp

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed requests
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// The gRPC server hands raw message bytes to the same export functions as HTTP, instead
// of letting gRPC decode them: a body that does not decode is then INVALID_ARGUMENT with
// the decoder's message (gRPC itself would answer INTERNAL), and both transports share
// one decode path.

// rawMessage is an undecoded request or an encoded response.
type rawMessage struct {
	buf  mem.Buffer // request: holds the bytes until freed
	data []byte
}

// rawCodec passes message bytes through untouched. It is forced on Loupe's own server
// only (grpc.ForceServerCodecV2), never registered globally.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, fmt.Errorf("otlp codec: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(m.data)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("otlp codec: cannot unmarshal into %T", v)
	}
	m.buf = data.MaterializeToBuffer(mem.DefaultBufferPool())
	m.data = m.buf.ReadOnlyData()
	return nil
}

func (rawCodec) Name() string { return "proto" }

func (m *rawMessage) free() {
	if m.buf != nil {
		m.buf.Free()
		m.buf = nil
	}
}

// serviceNames are the OTLP gRPC services, by signal name.
var serviceNames = map[string]string{
	"traces":  "opentelemetry.proto.collector.trace.v1.TraceService",
	"logs":    "opentelemetry.proto.collector.logs.v1.LogsService",
	"metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
}

func registerGRPC(srv *grpc.Server, c pipeline.Consumer, m *receiverMetrics) {
	for _, s := range signals {
		srv.RegisterService(&grpc.ServiceDesc{
			ServiceName: serviceNames[s.name],
			HandlerType: (*any)(nil),
			Methods: []grpc.MethodDesc{{
				MethodName: "Export",
				Handler:    grpcExportHandler(s, c, m),
			}},
			Metadata: "opentelemetry/proto/collector/" + s.name + "/v1/" + s.name + "_service.proto",
		}, struct{}{})
	}
}

func grpcExportHandler(s signal, c pipeline.Consumer, m *receiverMetrics) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	export := func(ctx context.Context, req any) (any, error) {
		in := req.(*rawMessage)
		m.bytes.WithLabelValues("grpc", s.name).Add(float64(len(in.data)))
		out, err := s.export(ctx, c, in.data, encProto)
		if err != nil {
			st := grpcStatus(err)
			m.requests.WithLabelValues("grpc", s.name, st.Code().String()).Inc()
			return nil, st.Err()
		}
		m.requests.WithLabelValues("grpc", s.name, codes.OK.String()).Inc()
		return &rawMessage{data: out}, nil
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/" + serviceNames[s.name] + "/Export"}
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := &rawMessage{} // the raw bytes only: decoding happens in export
		if err := dec(in); err != nil {
			return nil, err
		}
		defer in.free() // pdata copies what it keeps while decoding
		if interceptor == nil {
			return export(ctx, in)
		}
		// The server's interceptors (the token check, internal/auth) run here: a method
		// handler that skipped them would let every call through.
		return interceptor(ctx, in, info, export)
	}
}

// grpcStatus maps an export error to a status, as the OTLP specification asks.
func grpcStatus(err error) *status.Status {
	var de *decodeError
	switch {
	case errors.As(err, &de):
		return status.New(codes.InvalidArgument, de.msg)
	case pipeline.IsPermanent(err):
		return status.New(codes.InvalidArgument, clean(err.Error()))
	case errors.Is(err, tenant.ErrLimit):
		// RetryInfo only for the rate limit: the other limits do not pass by retrying soon.
		st := status.New(codes.ResourceExhausted, tenantLimitMessage(err))
		if le, _ := tenant.AsLimit(err); le.RetryAfter > 0 {
			if withInfo, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(le.RetryAfter)}); derr == nil {
				st = withInfo
			}
		}
		return st
	case errors.Is(err, pipeline.ErrStreamLimit):
		// Without RetryInfo, OTLP exporters do not retry RESOURCE_EXHAUSTED.
		return status.New(codes.ResourceExhausted, streamLimitMessage(err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err)
	}
	st := status.New(codes.Unavailable, clean(err.Error()))
	if d, ok := pipeline.RetryAfter(err); ok && d > 0 {
		if withInfo, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); derr == nil {
			st = withInfo
		}
	}
	return st
}
