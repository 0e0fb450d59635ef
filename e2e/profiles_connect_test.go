package e2e

import (
	"bytes"
	"context"
	"net/http"
	"runtime/pprof"
	"testing"
	"time"

	"connectrpc.com/connect"
	pushv1 "github.com/grafana/pyroscope/api/gen/proto/go/push/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/push/v1/pushv1connect"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"
	"github.com/stretchr/testify/require"
)

// TestProfilesConnectPush: push.v1.PusherService/Push, as Grafana Alloy's pyroscope.write
// sends (the generated Connect client): a goroutine profile is stored under its labels;
// a garbage profile is invalid_argument and the server keeps serving.
func TestProfilesConnectPush(t *testing.T) {
	s := startServer(t, t.TempDir())
	var b bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&b, 0))
	client := pushv1connect.NewPusherServiceClient(http.DefaultClient, s.HTTP)
	series := func(raw []byte) *pushv1.PushRequest {
		return &pushv1.PushRequest{Series: []*pushv1.RawProfileSeries{{
			Labels: []*typesv1.LabelPair{{Name: "__name__", Value: "goroutine"}, {Name: "service_name", Value: "alloy-scraped"},
				{Name: "job", Value: "pyroscope.scrape"}},
			Samples: []*pushv1.RawSample{{RawProfile: raw}},
		}}}
	}
	started := time.Now()
	_, err := client.Push(context.Background(), connect.NewRequest(series(b.Bytes())))
	require.NoError(t, err)
	g := flamegraph(t, s, "goroutines:goroutine:count:goroutine:count", `{service_name="alloy-scraped",job="pyroscope.scrape"}`, started)
	require.Positive(t, g.totalOf("testing.tRunner"), "%+v", g.Top)

	_, err = client.Push(context.Background(), connect.NewRequest(series([]byte("garbage"))))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%v", err)
	resp, err := http.Get(s.HTTP + "/-/healthy")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
}
