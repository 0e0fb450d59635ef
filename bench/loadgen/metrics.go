package loadgen

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// MetricOptions configures a MetricGen.
type MetricOptions struct {
	Seed uint64
	// Series is the number of active Prometheus series (a histogram counts once per bucket,
	// plus _sum and _count).
	Series int
	// Start is the timestamp of the first step; steps follow every Interval (scrape interval).
	Start    time.Time
	Interval time.Duration
	// Steps is the number of timestamps per series.
	Steps int
	// SamplesPerRequest bounds a remote-write request, as Prometheus' max_samples_per_send.
	SamplesPerRequest int
	// Shards splits the series into groups, each sent in time order by one worker.
	Shards int
}

// DefaultMetricOptions returns 10,000 series scraped every 15 s over the last hour, in
// remote-write requests of 2,000 samples over 4 shards.
func DefaultMetricOptions() MetricOptions {
	return MetricOptions{Seed: 1, Series: 10_000, Start: time.Now().Add(-time.Hour), Interval: 15 * time.Second,
		Steps: 240, SamplesPerRequest: 2000, Shards: 4}
}

type instrumentKind int

const (
	kindCounter instrumentKind = iota
	kindGauge
	kindHistogram
)

var histogramBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// instrument is one labelled counter, gauge or histogram and its current value.
type instrument struct {
	kind   instrumentKind
	name   string
	labels []prompb.Label // sorted, without __name__
	value  float64        // counter or gauge
	step   float64        // gauge random walk scale, counter mean increment
	counts []uint64       // histogram cumulative bucket counts (len(bounds)+1)
	sum    float64
	count  uint64
	svc    *service
	host   string
}

func (in *instrument) series() int {
	if in.kind == kindHistogram {
		return len(histogramBounds) + 1 + 2
	}
	return 1
}

// MetricGen produces metric samples deterministically from the seed. Not safe for
// concurrent use.
type MetricGen struct {
	opts  MetricOptions
	r     rng
	ins   []*instrument
	nser  int
	step  int // next step to generate for shard-ordered output
	shard int // next shard to emit at this step
	pos   int // next instrument of the shard
}

// NewMetricGen returns a generator of opts.Series active series.
func NewMetricGen(opts MetricOptions) (*MetricGen, error) {
	if opts.Series <= 0 || opts.Interval <= 0 || opts.Steps <= 0 || opts.SamplesPerRequest <= 0 || opts.Shards <= 0 {
		return nil, fmt.Errorf("metric options: series %d, interval %s, steps %d, samples per request %d and shards %d must be positive",
			opts.Series, opts.Interval, opts.Steps, opts.SamplesPerRequest, opts.Shards)
	}
	g := &MetricGen{opts: opts, r: newRNG(opts.Seed, 3)}
	w := newWorld()
	families := []struct {
		kind instrumentKind
		name string
	}{
		{kindCounter, "http_server_requests_total"},
		{kindHistogram, "http_server_request_duration_seconds"},
		{kindGauge, "process_resident_memory_bytes"},
		{kindCounter, "process_cpu_seconds_total"},
		{kindGauge, "go_goroutines"},
		{kindCounter, "db_client_queries_total"},
		{kindGauge, "queue_depth"},
		{kindCounter, "cache_requests_total"},
	}
	const maxHosts = 4 // services have 2 to 4 hosts
	codes := []string{"200", "201", "304", "400", "404", "500", "503"}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH"}
	// Walk the combinations deterministically until there are enough series.
	for i := 0; g.nser < opts.Series; i++ {
		f := families[i%len(families)]
		svc := &w.services[(i/len(families))%len(w.services)]
		hi := (i / (len(families) * len(w.services))) % maxHosts
		if hi >= len(svc.hosts) {
			continue
		}
		host := svc.hosts[hi]
		k := i / (len(families) * len(w.services) * maxHosts)
		in := &instrument{kind: f.kind, name: f.name, svc: svc, host: host}
		in.labels = []prompb.Label{{Name: "job", Value: svc.name}, {Name: "instance", Value: host + ":8080"}}
		// Mixed-radix digits of k pick the label values, so that no two instruments share
		// a label set; past the last combination a replica label keeps them apart.
		switch f.name {
		case "http_server_requests_total", "http_server_request_duration_seconds":
			nr := len(svc.routes)
			in.labels = append(in.labels,
				prompb.Label{Name: "route", Value: svc.routes[k%nr]},
				prompb.Label{Name: "method", Value: methods[(k/nr)%len(methods)]})
			rest := k / (nr * len(methods))
			if f.kind == kindCounter {
				in.labels = append(in.labels, prompb.Label{Name: "code", Value: codes[rest%len(codes)]})
				rest /= len(codes)
			}
			if rest > 0 {
				in.labels = append(in.labels, prompb.Label{Name: "replica", Value: strconv.Itoa(rest)})
			}
		case "db_client_queries_total", "cache_requests_total", "queue_depth":
			in.labels = append(in.labels, prompb.Label{Name: "table", Value: w.tables[k%len(w.tables)]},
				prompb.Label{Name: "shard", Value: strconv.Itoa(k / len(w.tables))})
		default:
			in.labels = append(in.labels, prompb.Label{Name: "replica", Value: strconv.Itoa(k)})
		}
		sort.Slice(in.labels, func(a, b int) bool { return in.labels[a].Name < in.labels[b].Name })
		switch f.kind {
		case kindCounter:
			in.step = g.r.logNormal(20, 1.5)
			in.value = float64(g.r.IntN(100000))
		case kindGauge:
			in.value = math.Round(g.r.logNormal(200e6, 1))
			in.step = in.value / 100
			if f.name == "go_goroutines" || f.name == "queue_depth" {
				in.value, in.step = float64(10+g.r.IntN(500)), 3
			}
		case kindHistogram:
			in.counts = make([]uint64, len(histogramBounds)+1)
		}
		g.ins = append(g.ins, in)
		g.nser += in.series()
	}
	return g, nil
}

// Series returns the number of active series.
func (g *MetricGen) Series() int { return g.nser }

// Samples returns the number of samples a full run produces.
func (g *MetricGen) Samples() int { return g.nser * g.opts.Steps }

// advance moves one instrument forward by one scrape interval.
func (g *MetricGen) advance(in *instrument) {
	r := g.r
	switch in.kind {
	case kindCounter:
		in.value += math.Round(r.logNormal(in.step, 0.3))
	case kindGauge:
		in.value = math.Max(0, in.value+math.Round(r.NormFloat64()*in.step))
	case kindHistogram:
		n := 5 + r.IntN(50)
		for range n {
			v := r.logNormal(0.04, 1)
			in.sum += v
			for b := len(histogramBounds); b >= 0; b-- {
				if b == len(histogramBounds) || v <= histogramBounds[b] {
					in.counts[b]++
					continue
				}
				break
			}
		}
		in.count += uint64(n)
	}
}

// appendSamples adds in's series at time ts (ms) to the request.
func appendSamples(ts int64, in *instrument, out []prompb.TimeSeries) []prompb.TimeSeries {
	one := func(name string, extra *prompb.Label, v float64) {
		labels := make([]prompb.Label, 0, len(in.labels)+2)
		labels = append(labels, prompb.Label{Name: "__name__", Value: name})
		for _, l := range in.labels {
			if extra != nil && extra.Name < l.Name {
				labels = append(labels, *extra)
				extra = nil
			}
			labels = append(labels, l)
		}
		if extra != nil {
			labels = append(labels, *extra)
		}
		out = append(out, prompb.TimeSeries{Labels: labels, Samples: []prompb.Sample{{Value: v, Timestamp: ts}}})
	}
	switch in.kind {
	case kindHistogram:
		for b, c := range in.counts {
			le := "+Inf"
			if b < len(histogramBounds) {
				le = strconv.FormatFloat(histogramBounds[b], 'g', -1, 64)
			}
			one(in.name+"_bucket", &prompb.Label{Name: "le", Value: le}, float64(c))
		}
		one(in.name+"_sum", nil, in.sum)
		one(in.name+"_count", nil, float64(in.count))
	default:
		one(in.name, nil, in.value)
	}
	return out
}

// Done reports whether every step of every shard has been generated.
func (g *MetricGen) Done() bool { return g.step >= g.opts.Steps }

// NextRemoteWrite returns the next remote-write 1.0 request (snappy-compressed protobuf)
// of up to SamplesPerRequest samples of one shard. Requests go shard by shard within a
// step, and each shard's requests are in time order. It returns ok=false when done.
func (g *MetricGen) NextRemoteWrite() (Batch, bool, error) {
	b, ok, err := g.nextSeries()
	if err != nil || !ok {
		return Batch{}, ok, err
	}
	req := &prompb.WriteRequest{Timeseries: b.series}
	raw, err := req.Marshal()
	if err != nil {
		return Batch{}, false, fmt.Errorf("encode remote write: %w", err)
	}
	return Batch{Body: snappy.Encode(nil, raw), Items: len(b.series), Shard: b.shard}, true, nil
}

// nextSeries advances the instruments of the next request's shard and returns their samples.
func (g *MetricGen) nextSeries() (seriesBatch, bool, error) {
	for !g.Done() {
		ts := g.opts.Start.Add(time.Duration(g.step) * g.opts.Interval).UnixMilli()
		b := seriesBatch{shard: g.shard}
		for g.pos < len(g.ins) && len(b.series) < g.opts.SamplesPerRequest {
			in := g.ins[g.pos]
			g.pos++
			if (g.pos-1)%g.opts.Shards != b.shard {
				continue
			}
			g.advance(in)
			n := len(b.series)
			b.series = appendSamples(ts, in, b.series)
			for range len(b.series) - n {
				b.types = append(b.types, metricType(in.kind))
			}
		}
		if g.pos >= len(g.ins) {
			g.pos = 0
			g.shard++
			if g.shard == g.opts.Shards {
				g.shard = 0
				g.step++
			}
		}
		if len(b.series) > 0 {
			return b, true, nil
		}
	}
	return seriesBatch{}, false, nil
}

// NextOTLP returns one step of every instrument as an OTLP ExportMetricsServiceRequest
// (cumulative sums, gauges and explicit-bucket histograms, one resource per service and
// host); items are Prometheus samples the step becomes. It returns ok=false when done.
func (g *MetricGen) NextOTLP() (b Batch, ok bool, err error) {
	if g.Done() {
		return Batch{}, false, nil
	}
	ts := pcommon.NewTimestampFromTime(g.opts.Start.Add(time.Duration(g.step) * g.opts.Interval))
	start := pcommon.NewTimestampFromTime(g.opts.Start.Add(-g.opts.Interval))
	g.step++
	md := pmetric.NewMetrics()
	type key struct{ svc, host string }
	scopes := map[key]pmetric.MetricSlice{}
	metrics := map[string]pmetric.Metric{}
	for _, in := range g.ins {
		g.advance(in)
		k := key{in.svc.name, in.host}
		ms, ok := scopes[k]
		if !ok {
			rm := md.ResourceMetrics().AppendEmpty()
			setResource(rm.Resource().Attributes(), in.svc, in.host)
			ms = rm.ScopeMetrics().AppendEmpty().Metrics()
			scopes[k] = ms
		}
		mk := k.svc + "/" + k.host + "/" + in.name
		m, ok := metrics[mk]
		if !ok {
			m = ms.AppendEmpty()
			m.SetName(in.name)
			switch in.kind {
			case kindCounter:
				m.SetEmptySum().SetIsMonotonic(true)
				m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			case kindGauge:
				m.SetEmptyGauge()
			case kindHistogram:
				m.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			}
			metrics[mk] = m
		}
		var attrs pcommon.Map
		switch in.kind {
		case kindCounter:
			dp := m.Sum().DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(ts)
			dp.SetDoubleValue(in.value)
			attrs = dp.Attributes()
		case kindGauge:
			dp := m.Gauge().DataPoints().AppendEmpty()
			dp.SetTimestamp(ts)
			dp.SetDoubleValue(in.value)
			attrs = dp.Attributes()
		case kindHistogram:
			dp := m.Histogram().DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(ts)
			dp.SetCount(in.count)
			dp.SetSum(in.sum)
			dp.ExplicitBounds().FromRaw(histogramBounds)
			prev := uint64(0)
			for _, c := range in.counts {
				dp.BucketCounts().Append(c - prev)
				prev = c
			}
			attrs = dp.Attributes()
		}
		for _, l := range in.labels {
			if l.Name != "job" && l.Name != "instance" {
				attrs.PutStr(l.Name, l.Value)
			}
		}
	}
	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		return Batch{}, false, fmt.Errorf("encode metrics: %w", err)
	}
	return Batch{Body: body, Items: g.nser, Shard: 0}, true, nil
}
