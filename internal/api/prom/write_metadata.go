package prom

import (
	"context"
	"log/slog"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
)

// MetadataRecorder is an optional capability of a Storage: it keeps the type, help and
// unit of metric families that arrive by remote write, so that /api/v1/metadata shows
// them as it shows those of OTLP writes. Remote write 1.0 carries them per family
// (WriteRequest.Metadata, usually in requests of their own); 2.0 per series. Prometheus
// itself drops the 1.0 ones and keeps the 2.0 ones only in its head block.
type MetadataRecorder interface {
	// RecordMetadata records list; entries of one family may disagree (see
	// tsdb.Store.RecordMetadata). Safe for concurrent use.
	RecordMetadata(list []prompb.MetricMetadata) error
}

// recordV1Metadata records the metadata of a remote write 1.0 request. Failing to keep
// metadata never fails the write (as in Prometheus' handler): it is logged.
func recordV1Metadata(rec MetadataRecorder, list []prompb.MetricMetadata, logger *slog.Logger) {
	if rec == nil || len(list) == 0 {
		return
	}
	if err := rec.RecordMetadata(list); err != nil {
		logger.Warn("remote write metadata not kept", "err", err)
	}
}

// metadataAppendable passes the per-series metadata of remote write 2.0 (which
// Prometheus' handler hands to Appender.UpdateMetadata) to a MetadataRecorder, by family.
type metadataAppendable struct {
	next   storage.Appendable
	rec    MetadataRecorder
	logger *slog.Logger
}

// withWriteMetadata wraps app so that its appenders record metadata in rec; without a
// recorder it returns app.
func withWriteMetadata(app storage.Appendable, rec MetadataRecorder, logger *slog.Logger) storage.Appendable {
	if rec == nil {
		return app
	}
	return metadataAppendable{next: app, rec: rec, logger: logger}
}

func (a metadataAppendable) Appender(ctx context.Context) storage.Appender {
	return &metadataAppender{Appender: a.next.Appender(ctx), rec: a.rec, logger: a.logger}
}

// metadataAppender collects the distinct metadata of one request's series and records
// it at Commit. One request goes through one appender, from one goroutine.
type metadataAppender struct {
	storage.Appender
	rec    MetadataRecorder
	logger *slog.Logger
	seen   map[familyMetadata]struct{}
	list   []prompb.MetricMetadata
}

type familyMetadata struct {
	family string
	meta   metadata.Metadata
}

func (a *metadataAppender) UpdateMetadata(ref storage.SeriesRef, l labels.Labels, m metadata.Metadata) (storage.SeriesRef, error) {
	if m != (metadata.Metadata{Type: model.MetricTypeUnknown}) && m != (metadata.Metadata{}) {
		key := familyMetadata{familyName(l.Get(labels.MetricName), m.Type), m}
		if _, ok := a.seen[key]; !ok && key.family != "" {
			if a.seen == nil {
				a.seen = map[familyMetadata]struct{}{}
			}
			a.seen[key] = struct{}{}
			a.list = append(a.list, prompb.MetricMetadata{
				MetricFamilyName: key.family, Type: prompb.FromMetadataType(m.Type), Help: m.Help, Unit: m.Unit,
			})
		}
	}
	return a.Appender.UpdateMetadata(ref, l, m)
}

// Commit records the metadata before the samples are committed, so that acknowledged
// samples have it (as OTLP writes do).
func (a *metadataAppender) Commit() error {
	recordV1Metadata(a.rec, a.list, a.logger)
	return a.Appender.Commit()
}

// familyName is the family a series of type typ belongs to, as scrape targets name it in
// /api/v1/metadata: the series name without the suffixes its type adds (a histogram's
// "_bucket", "_sum" and "_count", ...). Counters keep "_total", as in the text format.
func familyName(series string, typ model.MetricType) string {
	var suffixes []string
	switch typ {
	case model.MetricTypeHistogram:
		suffixes = []string{"_bucket", "_sum", "_count", "_created"}
	case model.MetricTypeGaugeHistogram:
		suffixes = []string{"_bucket", "_gsum", "_gcount"}
	case model.MetricTypeSummary:
		suffixes = []string{"_sum", "_count", "_created"}
	}
	for _, s := range suffixes {
		if f, ok := strings.CutSuffix(series, s); ok && f != "" {
			return f
		}
	}
	return series
}
