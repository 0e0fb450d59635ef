package tsdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// maxAheadTime is how far in the future a sample may be, as in Prometheus' write handlers:
// a clock that is far ahead would otherwise block every later sample of the series.
const maxAheadTime = 10 * time.Minute

// targetInfoName is the series the translator makes of resource attributes.
const targetInfoName = "target_info"

// WriteMetrics translates md to Prometheus series with Prometheus' OTLP translator and
// appends them in one TSDB transaction. A nil error means every point is in the WAL
// (handed to the OS, so it survives a crash of the process; fsynced when a WAL segment
// completes, as in Prometheus).
//
// Points the translator or the TSDB cannot take (non-cumulative temporality when delta
// conversion is off, exponential histograms with scale < -4, out-of-order or duplicate
// samples, invalid histograms, invalid labels, samples more than 10 minutes in the future)
// are skipped while the rest commits; WriteMetrics then returns a *store.PartialError.
// Its Rejected count is in OTLP data points for points dropped before translation and in
// Prometheus samples for samples refused by the TSDB (a classic histogram point is several
// samples). Any other failure rolls the whole batch back and returns an error; when the
// disk is nearly full (Options.MinFreeBytes) that error wraps ErrDiskFull.
func (s *Store) WriteMetrics(ctx context.Context, md pmetric.Metrics) error {
	// Checked first, so that a refused batch does not advance the delta conversion state.
	if err := s.guard.check(); err != nil {
		s.metrics.failedWrites.Inc()
		return err
	}
	start := time.Now()
	var rej rejections
	var err error
	if s.delta != nil && hasDelta(md) {
		err = s.writeThroughDelta(ctx, md, &rej)
	} else {
		err = s.write(ctx, md, &rej)
	}
	s.metrics.writeDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.failedWrites.Inc()
		return err
	}
	for reason, n := range rej.count {
		if reason != reasonMaxSeries { // counted by the series limit (serieslimit.go)
			s.metrics.rejected.WithLabelValues(reason).Add(float64(n))
		}
	}
	if n := rej.total(); n > 0 {
		s.logger.Debug("metric points rejected", "rejected", n, "reasons", rej.message())
		pe := &store.PartialError{Rejected: n, Msg: rej.message()}
		if rej.limit != nil {
			return &seriesLimitError{PartialError: pe, limit: rej.limit}
		}
		return pe
	}
	return nil
}

// write translates md and appends the result. Rejected points are added to rej.
func (s *Store) write(ctx context.Context, md pmetric.Metrics, rej *rejections) error {
	expectedErrs := predictTranslationLoss(md, rej)

	conv := prw.NewPrometheusConverter()
	annots, convErr := conv.FromMetrics(ctx, md, s.settings.prw)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("translate metrics: %w", err)
	}
	// The converter reports each metric it could not fully translate; the ones we did not
	// foresee are still counted so that nothing is dropped silently.
	if errs := flattenErrors(convErr); len(errs) > expectedErrs {
		rej.add(reasonTranslation, int64(len(errs)-expectedErrs), errors.Join(errs...).Error())
	}
	if ws, _ := annots.AsStrings("", 0, 0); len(ws) > 0 {
		s.logger.Debug("warnings translating OTLP metrics", "warnings", ws)
	}

	db, err := s.writableDB()
	if err != nil {
		return err
	}
	app := s.exemplars.wrap(db, s.limitSeries(db, db.Appender(ctx)))
	appended, err := s.appendSeries(app, conv.TimeSeries(), time.Now().Add(maxAheadTime).UnixMilli(), rej)
	if err != nil {
		return errors.Join(err, app.Rollback())
	}
	// Metadata is persisted before the commit so that acknowledged samples always have it.
	if err := s.meta.update(conv.Metadata()); err != nil {
		return errors.Join(fmt.Errorf("store metric metadata: %w", err), app.Rollback())
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit samples: %w", err)
	}
	s.metrics.samplesWritten.Add(float64(appended))
	return nil
}

// appendSeries appends every sample, histogram and exemplar of series. Samples the TSDB
// refuses are counted in rej and skipped: appends only touch memory, so a refusal is about
// the sample, never about the storage (storage failures surface at Commit).
func (s *Store) appendSeries(app storage.Appender, series []prompb.TimeSeries, maxT int64, rej *rejections) (appended int, err error) {
	b := labels.NewScratchBuilder(0)
	for _, ts := range series {
		ls := ts.ToLabels(&b, nil)
		points := int64(len(ts.Samples) + len(ts.Histograms))
		if !ls.Has(labels.MetricName) || !ls.IsValid(model.UTF8Validation) {
			rej.add(reasonInvalidLabels, points, "invalid metric name or label: "+ls.String())
			continue
		}
		if dup, ok := ls.HasDuplicateLabelNames(); ok {
			rej.add(reasonInvalidLabels, points, fmt.Sprintf("duplicate label %q in %s", dup, ls.String()))
			continue
		}

		// target_info is synthesised from the resource and stamped with the batch's newest
		// point. When that stamp is not newer than the one already stored, the same
		// information is there already: nothing sent is lost, so nothing is reported.
		isInfo := ls.Get(labels.MetricName) == targetInfoName
		var ref storage.SeriesRef
		for _, smp := range ts.Samples {
			if smp.Timestamp > maxT {
				if !isInfo {
					rej.add(reasonTooNew, 1, fmt.Sprintf("%s at %s is more than %s in the future", ls.String(), time.UnixMilli(smp.Timestamp).UTC().Format(time.RFC3339), maxAheadTime))
				}
				continue
			}
			r, err := app.Append(ref, ls, smp.Timestamp, smp.Value)
			if err != nil {
				reason := classifyAppendError(err, reasonInvalidSamples)
				if !isInfo || reason == reasonInvalidLabels || reason == reasonInvalidSamples || reason == reasonMaxSeries {
					rej.add(reason, 1, fmt.Sprintf("%s: %v", ls.String(), err))
					rej.noteLimit(err)
				}
				continue
			}
			ref = r
			appended++
		}
		for _, hp := range ts.Histograms {
			if hp.Timestamp > maxT {
				rej.add(reasonTooNew, 1, fmt.Sprintf("%s at %s is more than %s in the future", ls.String(), time.UnixMilli(hp.Timestamp).UTC().Format(time.RFC3339), maxAheadTime))
				continue
			}
			var r storage.SeriesRef
			if hp.IsFloatHistogram() {
				r, err = app.AppendHistogram(ref, ls, hp.Timestamp, nil, hp.ToFloatHistogram())
			} else {
				r, err = app.AppendHistogram(ref, ls, hp.Timestamp, hp.ToIntHistogram(), nil)
			}
			if err != nil {
				rej.add(classifyAppendError(err, reasonInvalidHist), 1, fmt.Sprintf("%s: %v", ls.String(), err))
				rej.noteLimit(err)
				continue
			}
			ref = r
			appended++
		}
		// Exemplars are best effort, as in Prometheus: they are counted when dropped but
		// never fail or reject a write.
		for _, ep := range ts.Exemplars {
			if ref == 0 {
				s.metrics.exemplarsDropped.Inc()
				continue
			}
			if _, err := app.AppendExemplar(ref, ls, ep.ToExemplar(&b, nil)); err != nil {
				s.metrics.exemplarsDropped.Inc()
			}
		}
	}
	return appended, nil
}

// classifyAppendError maps a TSDB append error to a rejection reason.
func classifyAppendError(err error, fallback string) string {
	switch {
	case errors.Is(err, storage.ErrOutOfOrderSample):
		return reasonOutOfOrder
	case errors.Is(err, storage.ErrTooOldSample), errors.Is(err, storage.ErrOutOfBounds):
		return reasonTooOld
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		return reasonDuplicate
	case errors.Is(err, promtsdb.ErrInvalidSample):
		return reasonInvalidLabels
	case errors.Is(err, tenant.ErrLimit):
		return reasonMaxSeries
	}
	return fallback
}

// flattenErrors lists the errors joined in err (the converter joins them with multierr,
// which supports Unwrap() []error).
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// hasDelta reports whether md holds a delta sum or histogram (as Prometheus' handler does,
// so that cumulative-only batches skip the delta converter and its lock).
func hasDelta(md pmetric.Metrics) bool {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				var t pmetric.AggregationTemporality
				switch m.Type() {
				case pmetric.MetricTypeSum:
					t = m.Sum().AggregationTemporality()
				case pmetric.MetricTypeHistogram:
					t = m.Histogram().AggregationTemporality()
				case pmetric.MetricTypeExponentialHistogram:
					t = m.ExponentialHistogram().AggregationTemporality()
				}
				if t == pmetric.AggregationTemporalityDelta {
					return true
				}
			}
		}
	}
	return false
}
