package loadgen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// LokiSource turns the OTLP log batches of src into Loki push requests (protobuf+snappy):
// one stream per service, host and level; the other attributes become structured metadata.
// Raw keeps the OTLP bytes for the zstd reference.
func LokiSource(src Source) Source {
	return SourceFunc(func() (Batch, bool, error) {
		b, ok, err := src.Next()
		if err != nil || !ok {
			return b, ok, err
		}
		body, err := lokiPush(b.Body)
		if err != nil {
			return Batch{}, false, err
		}
		return Batch{Body: body, Items: b.Items, Shard: b.Shard, Raw: b.Body}, true, nil
	})
}

func lokiPush(otlp []byte) ([]byte, error) {
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(otlp); err != nil {
		return nil, fmt.Errorf("decode logs: %w", err)
	}
	streams := map[string]*push.Stream{}
	rls := req.Logs().ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		svc, _ := rl.Resource().Attributes().Get("service.name")
		host, _ := rl.Resource().Attributes().Get("host.name")
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				labels := fmt.Sprintf(`{service_name=%q, host=%q, level=%q}`, svc.AsString(), host.AsString(), strings.ToLower(lr.SeverityText()))
				st := streams[labels]
				if st == nil {
					st = &push.Stream{Labels: labels}
					streams[labels] = st
				}
				st.Entries = append(st.Entries, lokiEntry(lr))
			}
		}
	}
	keys := make([]string, 0, len(streams))
	for k := range streams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pr := push.PushRequest{}
	for _, k := range keys {
		pr.Streams = append(pr.Streams, *streams[k])
	}
	raw, err := pr.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode loki push: %w", err)
	}
	return snappy.Encode(nil, raw), nil
}

func lokiEntry(lr plog.LogRecord) push.Entry {
	e := push.Entry{Timestamp: lr.Timestamp().AsTime(), Line: lr.Body().AsString()}
	for k, v := range lr.Attributes().All() {
		e.StructuredMetadata = append(e.StructuredMetadata, push.LabelAdapter{Name: k, Value: v.AsString()})
	}
	if !lr.TraceID().IsEmpty() {
		e.StructuredMetadata = append(e.StructuredMetadata, push.LabelAdapter{Name: "trace_id", Value: lr.TraceID().String()})
	}
	return e
}
