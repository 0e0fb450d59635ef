package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// invokeRaw sends arbitrary bytes as a trace export request.
func invokeRaw(t *testing.T, conn *grpc.ClientConn, body []byte) error {
	t.Helper()
	return invokeRawPath(t, conn, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", body)
}

func invokeRawPath(t *testing.T, conn *grpc.ClientConn, method string, body []byte) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return conn.Invoke(ctx, method, &rawMessage{data: body}, &rawMessage{}, grpc.ForceCodecV2(rawCodec{}),
		grpc.MaxCallSendMsgSize(64<<20))
}

func TestGRPCInvalidProtobufIsInvalidArgument(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	conn := dial(t, env.recv.GRPCAddr())
	valid := protoBody(t, traceRequest(2))
	err := invokeRaw(t, conn, valid[:len(valid)-4])
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	require.Contains(t, status.Convert(err).Message(), "decode protobuf: ")
	require.Equal(t, 0, env.store.snapshotTraces().SpanCount())

	require.NoError(t, invokeRaw(t, conn, valid))
	require.Equal(t, 2, env.store.snapshotTraces().SpanCount())
}

func TestGRPCTooLargeIsResourceExhausted(t *testing.T) {
	rcfg := DefaultConfig()
	rcfg.MaxRequestBytes = 1024
	env := startEnv(t, pipeline.DefaultConfig(), rcfg, nil)
	conn := dial(t, env.recv.GRPCAddr())
	err := invokeRaw(t, conn, make([]byte, 2048))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
}

func TestGRPCPartialSuccess(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	client := ptraceotlp.NewGRPCClient(dial(t, env.recv.GRPCAddr()))
	req := traceRequest(3)
	req.Traces().ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(2).SetSpanID(pcommon.SpanID{})
	resp, err := client.Export(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, int64(1), resp.PartialSuccess().RejectedSpans())
	require.Contains(t, resp.PartialSuccess().ErrorMessage(), "span span_id is all zeros (1)")
	require.Equal(t, 2, env.store.snapshotTraces().SpanCount())
}

func TestQueueFullGRPCUnavailableWithRetryInfo(t *testing.T) {
	env, wg := fillSpanQueue(t)
	client := ptraceotlp.NewGRPCClient(dial(t, env.recv.GRPCAddr()))
	_, err := client.Export(context.Background(), traceRequest(1))
	st := status.Convert(err)
	require.Equal(t, codes.Unavailable, st.Code(), "%v", err)
	require.Contains(t, st.Message(), "ingest queue full")
	var info *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			info = ri
		}
	}
	require.NotNil(t, info, "RetryInfo detail")
	require.Equal(t, 2*time.Second, info.RetryDelay.AsDuration())

	close(env.store.hold)
	wg.Wait()
}

func TestReceiverLifecycle(t *testing.T) {
	r := New(DefaultConfig(), nil, nil, nil)
	require.NoError(t, r.Shutdown(context.Background()), "Shutdown without Start")
	require.Empty(t, r.GRPCAddr())

	cfg := DefaultConfig()
	cfg.MaxRequestBytes = 0
	require.ErrorContains(t, New(cfg, nil, nil, nil).Start(context.Background()), "otlp.MaxRequestBytes: 0")

	require.ErrorContains(t, New(DefaultConfig(), nil, nil, nil).Start(context.Background()), "no consumer")

	cfg = DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", ""
	p := pipeline.New(pipeline.DefaultConfig(), pipeline.Writers{Logs: nopStore{}, Spans: nopStore{}, Metrics: nopStore{}}, nil, nil)
	r = New(cfg, p, nil, nil)
	require.NoError(t, r.Start(context.Background()))
	require.NotEmpty(t, r.GRPCAddr())
	require.Empty(t, r.HTTPAddr(), "HTTP disabled")
	require.Error(t, r.Start(context.Background()), "second Start")
	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()), "second Shutdown")
}

func TestGRPCGzipBombIsResourceExhausted(t *testing.T) {
	rcfg := DefaultConfig()
	rcfg.MaxRequestBytes = 1 << 20
	env := startEnv(t, pipeline.DefaultConfig(), rcfg, nil)
	conn := dial(t, env.recv.GRPCAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// 32 MiB of zeros compress to ~32 KiB on the wire; the server must stop at 1 MiB.
	err := conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
		&rawMessage{data: make([]byte, 32<<20)}, &rawMessage{}, grpc.ForceCodecV2(rawCodec{}),
		grpc.UseCompressor("gzip"))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
}
