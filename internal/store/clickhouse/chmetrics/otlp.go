package chmetrics

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/internal/store"
)

// WriteMetrics implements store.MetricWriter with Prometheus' OTLP translator (the one the
// embedded store and Prometheus' own OTLP receiver use) and one appender commit. Metrics
// the translator refuses (delta temporality, exponential histograms of scale < -4) and
// points the store refuses (native histograms, from exponential histograms or with
// Options.Translation.ConvertHistogramsToNHCB; invalid label sets) are skipped while the
// rest commits, and reported in a *store.PartialError: translator errors count one per
// metric, store refusals one per point.
func (s *Store) WriteMetrics(ctx context.Context, md pmetric.Metrics) error {
	conv := prw.NewPrometheusConverter()
	settings := s.opts.Translation
	settings.AllowDeltaTemporality = false
	_, convErr := conv.FromMetrics(ctx, md, settings)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("translate metrics: %w", err)
	}
	var rejected int64
	var reasons []string
	if convErr != nil {
		errs := []error{convErr}
		if j, ok := convErr.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		rejected += int64(len(errs))
		reasons = append(reasons, errors.Join(errs...).Error())
	}

	app := s.Appender(ctx)
	b := labels.NewScratchBuilder(0)
	for _, ts := range conv.TimeSeries() {
		ls := ts.ToLabels(&b, nil)
		if len(ts.Histograms) > 0 {
			rejected += int64(len(ts.Histograms))
			reasons = append(reasons, fmt.Sprintf("%s: %v", ls, errNativeHistograms))
		}
		stored := false
		for _, smp := range ts.Samples {
			if _, err := app.Append(0, ls, smp.Timestamp, smp.Value); err != nil {
				rejected++
				reasons = append(reasons, err.Error())
			} else {
				stored = true
			}
		}
		// Exemplars are best effort, as in the embedded store: never a failed write.
		for _, ep := range ts.Exemplars {
			if stored {
				_, _ = app.AppendExemplar(0, ls, ep.ToExemplar(&b, nil))
			}
		}
	}
	if err := app.Commit(); err != nil {
		return err
	}
	if rejected > 0 {
		if len(reasons) > 3 {
			reasons = append(reasons[:3], "...")
		}
		return &store.PartialError{Rejected: rejected, Msg: strings.Join(reasons, "; ")}
	}
	return nil
}
