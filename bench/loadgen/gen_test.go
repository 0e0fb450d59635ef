package loadgen

import (
	"fmt"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

var start = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func TestLogsAreDeterministicAndRealistic(t *testing.T) {
	gen := func() *LogGen {
		o := DefaultLogOptions()
		o.Start, o.NeedleEvery = start, 5000
		g, err := NewLogGen(o)
		require.NoError(t, err)
		return g
	}
	a, b := gen(), gen()
	var bodies [][]byte
	for range 10 {
		x, err := a.Next()
		require.NoError(t, err)
		y, err := b.Next()
		require.NoError(t, err)
		require.Equal(t, x.Body, y.Body, "same seed, same bytes")
		require.Equal(t, 1000, x.Items)
		bodies = append(bodies, x.Body)
	}

	sev := map[string]int{}
	needles, withTrace := 0, 0
	services := map[string]bool{}
	for _, body := range bodies {
		req := plogotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalProto(body))
		for _, rl := range req.Logs().ResourceLogs().All() {
			svc, _ := rl.Resource().Attributes().Get("service.name")
			services[svc.AsString()] = true
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					sev[lr.SeverityText()]++
					require.Equal(t, 10, lr.Attributes().Len())
					require.NotEmpty(t, lr.Body().Str())
					if id, _ := lr.Attributes().Get("request.id"); id.Str() == Needle {
						needles++
						require.Contains(t, lr.Body().Str(), Needle)
					}
					if !lr.TraceID().IsEmpty() {
						withTrace++
					}
				}
			}
		}
	}
	require.Equal(t, 2, needles, "one needle per 5000 records")
	require.Greater(t, sev["INFO"], 6000, "INFO dominates: %v", sev)
	require.Greater(t, sev["ERROR"], 0)
	require.Greater(t, sev["DEBUG"], 0)
	require.Greater(t, len(services), 3)
	require.InDelta(t, 3000, withTrace, 400)
}

func TestTracesHaveFiveToFiftySpansAndSomeErrors(t *testing.T) {
	o := DefaultTraceOptions()
	o.Start = start
	g, err := NewTraceGen(o)
	require.NoError(t, err)
	perTrace := map[[16]byte]int{}
	errTraces := map[[16]byte]bool{}
	services := map[string]bool{}
	for range 100 {
		b, err := g.Next()
		require.NoError(t, err)
		req := ptraceotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalProto(b.Body))
		require.Equal(t, b.Items, req.Traces().SpanCount())
		for _, rs := range req.Traces().ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			services[svc.AsString()] = true
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					perTrace[sp.TraceID()]++
					require.GreaterOrEqual(t, sp.EndTimestamp(), sp.StartTimestamp())
					require.Greater(t, sp.Attributes().Len(), 2)
					if sp.Status().Code() == ptrace.StatusCodeError {
						errTraces[sp.TraceID()] = true
						require.Equal(t, "exception", sp.Events().At(sp.Events().Len()-1).Name())
					}
				}
			}
		}
	}
	for _, n := range perTrace {
		require.GreaterOrEqual(t, n, 5)
		require.LessOrEqual(t, n, 50)
	}
	share := float64(len(errTraces)) / float64(len(perTrace)) * 100
	require.InDelta(t, 2, share, 1.2, "about 2%% of traces fail")
	require.Greater(t, len(services), 5)
	require.NotEmpty(t, g.TraceIDs())
}

func TestMetricsRemoteWriteKeepsSeriesInOrder(t *testing.T) {
	o := DefaultMetricOptions()
	o.Series, o.Steps, o.Start, o.Shards = 500, 5, start, 3
	g, err := NewMetricGen(o)
	require.NoError(t, err)
	require.GreaterOrEqual(t, g.Series(), 500)
	last := map[string]int64{}  // series -> last timestamp
	shardOf := map[string]int{} // series -> shard
	samples := 0
	names := map[string]bool{}
	for {
		b, ok, err := g.NextRemoteWrite()
		require.NoError(t, err)
		if !ok {
			break
		}
		raw, err := snappy.Decode(nil, b.Body)
		require.NoError(t, err)
		var req prompb.WriteRequest
		require.NoError(t, req.Unmarshal(raw))
		require.LessOrEqual(t, len(req.Timeseries), o.SamplesPerRequest)
		for _, ts := range req.Timeseries {
			key := ""
			for _, l := range ts.Labels {
				key += l.Name + "=" + l.Value + ","
				if l.Name == "__name__" {
					names[l.Value] = true
				}
			}
			if s, ok := shardOf[key]; ok {
				require.Equal(t, s, b.Shard, "a series stays in its shard")
			}
			shardOf[key] = b.Shard
			require.Greater(t, ts.Samples[0].Timestamp, last[key], "in time order")
			last[key] = ts.Samples[0].Timestamp
			samples++
		}
	}
	require.Equal(t, g.Samples(), samples)
	require.Equal(t, g.Series(), len(last))
	require.True(t, names["http_server_request_duration_seconds_bucket"])
	require.True(t, names["process_resident_memory_bytes"])
}

func TestMetricSeriesAreDistinct(t *testing.T) {
	o := DefaultMetricOptions()
	o.Series, o.Steps, o.Start = 20_000, 1, start
	g, err := NewMetricGen(o)
	require.NoError(t, err)
	seen := map[string]bool{}
	for {
		b, ok, err := g.NextRemoteWrite()
		require.NoError(t, err)
		if !ok {
			break
		}
		raw, err := snappy.Decode(nil, b.Body)
		require.NoError(t, err)
		var req prompb.WriteRequest
		require.NoError(t, req.Unmarshal(raw))
		for _, ts := range req.Timeseries {
			key := fmt.Sprint(ts.Labels)
			require.False(t, seen[key], "duplicate series %s", key)
			seen[key] = true
		}
	}
	require.Equal(t, g.Series(), len(seen))
}

func TestMetricsOTLP(t *testing.T) {
	o := DefaultMetricOptions()
	o.Series, o.Steps, o.Start = 200, 2, start
	g, err := NewMetricGen(o)
	require.NoError(t, err)
	for range 2 {
		b, ok, err := g.NextOTLP()
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, g.Series(), b.Items)
	}
	_, ok, err := g.NextOTLP()
	require.NoError(t, err)
	require.False(t, ok)
}

func TestLokiSource(t *testing.T) {
	o := DefaultLogOptions()
	o.Start, o.BatchSize = start, 100
	g, err := NewLogGen(o)
	require.NoError(t, err)
	batches, err := Collect(LokiSource(LogSource(g, 300)))
	require.NoError(t, err)
	require.Len(t, batches, 3)
	for _, b := range batches {
		req := plogotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalProto(b.Raw))
		require.Equal(t, b.Items, req.Logs().LogRecordCount())
		_, err := snappy.Decode(nil, b.Body)
		require.NoError(t, err)
	}
}

func TestBadOptions(t *testing.T) {
	_, err := NewLogGen(LogOptions{})
	require.Error(t, err)
	_, err = NewTraceGen(TraceOptions{BatchSpans: 10, MinSpans: 5, MaxSpans: 4, Interval: time.Second})
	require.Error(t, err)
	_, err = NewMetricGen(MetricOptions{})
	require.Error(t, err)
	_, err = NewSender("carrier-pigeon", Logs, "x", 1)
	require.Error(t, err)
	_, err = NewSender(RemoteWrite, Logs, "http://x", 1)
	require.Error(t, err)
}

var _ = plog.NewLogs

func TestMetricsRemoteWrite2(t *testing.T) {
	o := DefaultMetricOptions()
	o.Series, o.Steps, o.Start, o.Shards = 300, 2, start, 2
	g, err := NewMetricGen(o)
	require.NoError(t, err)
	samples := 0
	for {
		b, ok, err := g.NextRemoteWriteV2()
		require.NoError(t, err)
		if !ok {
			break
		}
		raw, err := snappy.Decode(nil, b.Body)
		require.NoError(t, err)
		var req writev2.Request
		require.NoError(t, req.Unmarshal(raw))
		require.Equal(t, "", req.Symbols[0], "the symbol table starts with the empty string")
		for _, ts := range req.Timeseries {
			require.Zero(t, len(ts.LabelsRefs)%2)
			require.Equal(t, "__name__", req.Symbols[ts.LabelsRefs[0]])
			require.NotEqual(t, writev2.Metadata_METRIC_TYPE_UNSPECIFIED, ts.Metadata.Type)
			samples += len(ts.Samples)
		}
	}
	require.Equal(t, g.Samples(), samples)
}
