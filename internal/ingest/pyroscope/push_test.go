package pyroscope

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	pushv1 "github.com/grafana/pyroscope/api/gen/proto/go/push/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/push/v1/pushv1connect"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"
)

// TestConnectPush pushes with the generated Connect client, as Alloy's pyroscope.write does.
func TestConnectPush(t *testing.T) {
	rec := &recorder{}
	h := NewHandler(rec, DefaultOptions(), nil, nil)
	path, ph := h.PushHandler()
	if path != "/push.v1.PusherService/" {
		t.Fatalf("path %q", path)
	}
	srv := httptest.NewServer(ph)
	defer srv.Close()
	client := pushv1connect.NewPusherServiceClient(srv.Client(), srv.URL)
	req := &pushv1.PushRequest{Series: []*pushv1.RawProfileSeries{{
		Labels: []*typesv1.LabelPair{{Name: "__name__", Value: "block"}, {Name: "service_name", Value: "alloy-app"},
			{Name: "__delta__", Value: "false"}, {Name: "namespace", Value: "prod"}},
		Samples: []*pushv1.RawSample{{RawProfile: contentionProfile(), ID: "x"}},
	}}}
	if _, err := client.Push(context.Background(), connect.NewRequest(req)); err != nil {
		t.Fatal(err)
	}
	p, ok := rec.types()["block:delay:nanoseconds:contentions:count"]
	if !ok || p.Labels["service_name"] != "alloy-app" || p.Labels["namespace"] != "prod" || len(p.Labels) != 2 {
		t.Fatalf("stored %v", rec.types())
	}

	req.Series[0].Samples[0].RawProfile = []byte("garbage")
	_, err := client.Push(context.Background(), connect.NewRequest(req))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
		t.Fatalf("garbage: %v", err)
	}
}
