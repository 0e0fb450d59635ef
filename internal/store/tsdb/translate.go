package tsdb

import (
	"errors"
	"fmt"

	"github.com/prometheus/prometheus/config"
	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/internal/tenant"
)

// translationSettings are the converter settings, built once from Options the way
// Prometheus' OTLP write handler builds them from its otlp config section.
type translationSettings struct {
	prw prw.Settings
}

func newTranslationSettings(o Options) translationSettings {
	return translationSettings{prw: prw.Settings{
		AddMetricSuffixes: o.TranslationStrategy != NoTranslation,
		AllowUTF8:         o.TranslationStrategy != UnderscoreEscapingWithSuffixes,
		PromoteResourceAttributes: prw.NewPromoteResourceAttributes(config.OTLPConfig{
			PromoteAllResourceAttributes: o.PromoteAllResourceAttributes,
			PromoteResourceAttributes:    o.PromoteResourceAttributes,
			IgnoreResourceAttributes:     o.IgnoreResourceAttributes,
		}),
		KeepIdentifyingResourceAttributes: o.KeepIdentifyingResourceAttributes,
		ConvertHistogramsToNHCB:           o.ConvertHistogramsToNHCB,
		// Deltas are either converted to cumulative before translation or rejected; Loupe
		// does not store raw deltas (Prometheus' experimental native delta ingestion).
		AllowDeltaTemporality: false,
	}}
}

// Rejection reasons, used as the "reason" label of loupe_metrics_rejected_total and in
// PartialError messages.
const (
	reasonTemporality    = "unsupported_temporality"
	reasonExpScale       = "exponential_histogram_scale"
	reasonExemplarValue  = "exemplar_without_value"
	reasonTranslation    = "translation_error"
	reasonDelta          = "delta_not_accumulated"
	reasonOutOfOrder     = "out_of_order"
	reasonTooOld         = "too_old"
	reasonTooNew         = "too_far_in_future"
	reasonDuplicate      = "duplicate_timestamp"
	reasonInvalidHist    = "invalid_histogram"
	reasonInvalidLabels  = "invalid_labels"
	reasonInvalidSamples = "invalid_sample"
)

// rejections counts dropped items by reason and keeps one example message per reason.
type rejections struct {
	count   map[string]int64
	example map[string]string
	order   []string // reasons in first-seen order, for stable messages
	limit   error    // a tenant limit's refusal among them (serieslimit.go)
}

// noteLimit keeps err when it is a tenant limit's refusal.
func (r *rejections) noteLimit(err error) {
	if errors.Is(err, tenant.ErrLimit) {
		r.limit = err
	}
}

func (r *rejections) add(reason string, n int64, example string) {
	if n <= 0 {
		return
	}
	if r.count == nil {
		r.count = map[string]int64{}
		r.example = map[string]string{}
	}
	if _, ok := r.count[reason]; !ok {
		r.order = append(r.order, reason)
		r.example[reason] = example
	}
	r.count[reason] += n
}

func (r *rejections) total() int64 {
	var n int64
	for _, c := range r.count {
		n += c
	}
	return n
}

// message summarises the rejections, e.g. "2 out_of_order (out of order sample: ...)".
func (r *rejections) message() string {
	msg := ""
	for i, reason := range r.order {
		if i > 0 {
			msg += "; "
		}
		msg += fmt.Sprintf("%d %s (%s)", r.count[reason], reason, r.example[reason])
	}
	return msg
}

// predictTranslationLoss walks md the way prometheusremotewrite.FromMetrics does and
// counts the data points it will drop, because the converter reports drops only as one
// error per metric, without a count. It returns how many metric-level errors the
// converter will report, so that unexpected ones can still be surfaced.
func predictTranslationLoss(md pmetric.Metrics, rej *rejections) (expectedErrs int) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if predictMetricLoss(ms.At(k), rej) {
					expectedErrs++
				}
			}
		}
	}
	return expectedErrs
}

// predictMetricLoss reports whether the converter will return an error for m, adding the
// points it will drop to rej.
func predictMetricLoss(m pmetric.Metric, rej *rejections) bool {
	var (
		points      int
		temporality pmetric.AggregationTemporality
		hasTemp     bool
	)
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		points = m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		points, temporality, hasTemp = m.Sum().DataPoints().Len(), m.Sum().AggregationTemporality(), true
	case pmetric.MetricTypeHistogram:
		points, temporality, hasTemp = m.Histogram().DataPoints().Len(), m.Histogram().AggregationTemporality(), true
	case pmetric.MetricTypeExponentialHistogram:
		points, temporality, hasTemp = m.ExponentialHistogram().DataPoints().Len(), m.ExponentialHistogram().AggregationTemporality(), true
	case pmetric.MetricTypeSummary:
		points = m.Summary().DataPoints().Len()
	default:
		// A metric without a type carries no points; the converter reports it.
		return true
	}
	if hasTemp && temporality != pmetric.AggregationTemporalityCumulative {
		rej.add(reasonTemporality, int64(points), fmt.Sprintf("metric %q has %s temporality; only cumulative is stored", m.Name(), temporality))
		return true
	}
	if points == 0 {
		return true // "empty data points": nothing is lost
	}

	// The converter stops at the first bad point of a metric and drops the rest.
	switch m.Type() {
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		for x := 0; x < dps.Len(); x++ {
			if hasValuelessExemplar(dps.At(x).Exemplars()) {
				// The point itself was stored; the ones after it are dropped.
				rej.add(reasonExemplarValue, int64(dps.Len()-x-1), fmt.Sprintf("metric %q has an exemplar without a value", m.Name()))
				return true
			}
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for x := 0; x < dps.Len(); x++ {
			if hasValuelessExemplar(dps.At(x).Exemplars()) {
				rej.add(reasonExemplarValue, int64(dps.Len()-x-1), fmt.Sprintf("metric %q has an exemplar without a value", m.Name()))
				return true
			}
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for x := 0; x < dps.Len(); x++ {
			if s := dps.At(x).Scale(); s < -4 {
				rej.add(reasonExpScale, int64(dps.Len()-x), fmt.Sprintf("metric %q has scale %d; native histograms need scale >= -4", m.Name(), s))
				return true
			}
			if hasValuelessExemplar(dps.At(x).Exemplars()) {
				rej.add(reasonExemplarValue, int64(dps.Len()-x-1), fmt.Sprintf("metric %q has an exemplar without a value", m.Name()))
				return true
			}
		}
	}
	return false
}

func hasValuelessExemplar(es pmetric.ExemplarSlice) bool {
	for i := 0; i < es.Len(); i++ {
		if es.At(i).ValueType() == pmetric.ExemplarValueTypeEmpty {
			return true
		}
	}
	return false
}
