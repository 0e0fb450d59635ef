package otlp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

// streamsRequest has one resource (log stream) per name, one record each.
func streamsRequest(names ...string) plogotlp.ExportRequest {
	ld := plog.NewLogs()
	for _, n := range names {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", n)
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(n)
	}
	return plogotlp.NewExportRequestFromLogs(ld)
}

// Records of log streams beyond limits.max_log_streams are answered as Loki push answers
// them: HTTP 429 and gRPC RESOURCE_EXHAUSTED naming the limit (they were a 200 partial
// success before), the other records stored.
func TestLogStreamLimitStatus(t *testing.T) {
	pcfg := pipeline.DefaultConfig()
	pcfg.Limits.MaxLogStreams = 1
	pcfg.Limits.StreamIdle = time.Hour
	env := startEnv(t, pcfg, DefaultConfig(), nil)

	body, err := streamsRequest("a", "b").MarshalProto()
	require.NoError(t, err)
	resp, err := http.Post("http://"+env.recv.HTTPAddr()+"/v1/logs", "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(msg))
	require.Contains(t, string(msg), "limits.max_log_streams")

	client := plogotlp.NewGRPCClient(dial(t, env.recv.GRPCAddr()))
	_, err = client.Export(context.Background(), streamsRequest("a", "c"))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	require.Contains(t, status.Convert(err).Message(), "limits.max_log_streams")
	require.Contains(t, status.Convert(err).Message(), "the other records of the request are stored")
	stored := env.store.snapshotLogs() // the last batch written
	require.Equal(t, 1, stored.LogRecordCount())
	require.Equal(t, "a", stored.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str(), "stream a's record is stored")

	_, err = client.Export(context.Background(), streamsRequest("a"))
	require.NoError(t, err)
}
