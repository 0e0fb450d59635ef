package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

// FuzzGRPCExport feeds arbitrary bytes to the OTLP gRPC Export handlers of the three
// services, through the server's raw codec and the same decode and pipeline as a real
// call (without a network). Every input is answered OK with a response that decodes, or
// INVALID_ARGUMENT; never a panic, never another code.
func FuzzGRPCExport(f *testing.F) {
	seeds := [][]byte{{}, {0x0a}, {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}}
	for _, m := range []interface{ MarshalProto() ([]byte, error) }{
		traceRequest(3), logsRequestForFuzz(), pmetricotlp.NewExportRequest(),
	} {
		b, err := m.MarshalProto()
		require.NoError(f, err)
		seeds = append(seeds, b, b[:len(b)/2])
	}
	for _, s := range seeds {
		f.Add(s)
	}

	p := pipeline.New(pipeline.DefaultConfig(), pipeline.Writers{Logs: nopStore{}, Spans: nopStore{}, Metrics: nopStore{}}, nil, nil)
	require.NoError(f, p.Start(context.Background()))
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	m := newReceiverMetrics(nil, nil)
	decodeResponse := map[string]func([]byte) error{
		"traces":  func(b []byte) error { return ptraceotlp.NewExportResponse().UnmarshalProto(b) },
		"logs":    func(b []byte) error { return plogotlp.NewExportResponse().UnmarshalProto(b) },
		"metrics": func(b []byte) error { return pmetricotlp.NewExportResponse().UnmarshalProto(b) },
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		for _, s := range signals {
			dec := func(v any) error {
				// The server's codec, over a copy: a mem buffer may be reused once freed.
				return rawCodec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(append([]byte(nil), body...))}, v)
			}
			out, err := grpcExportHandler(s, p, m)(nil, context.Background(), dec, nil)
			if err != nil {
				if code := status.Code(err); code != codes.InvalidArgument {
					t.Fatalf("%s: code %s: %v", s.name, code, err)
				}
				continue
			}
			if derr := decodeResponse[s.name](out.(*rawMessage).data); derr != nil {
				t.Fatalf("%s: response does not decode: %v", s.name, derr)
			}
		}
	})
}

// logsRequestForFuzz is a small logs request with nested attributes.
func logsRequestForFuzz() plogotlp.ExportRequest {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("hello")
	lr.Attributes().PutEmptyMap("m").PutEmptySlice("s").AppendEmpty().SetInt(1)
	return plogotlp.NewExportRequestFromLogs(ld)
}
