// Package labellimit bounds the label set of one metric series, so that the ingest paths
// that write Prometheus series directly (remote write, StatsD, scraping) refuse what the
// pipeline refuses on OTLP: the limits are the pipeline's attribute limits, applied to
// labels.
package labellimit

import (
	"context"
	"fmt"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

// Reasons, as used in the loupe_*_rejected_* metrics.
const (
	ReasonTooManyLabels     = "too_many_labels"
	ReasonLabelNameTooLong  = "label_name_too_long"
	ReasonLabelValueTooLong = "label_value_too_long"
)

// Limits bound one series' labels, as Prometheus' label_limit, label_name_length_limit and
// label_value_length_limit do for a scrape. Zero disables a limit.
type Limits struct {
	// Labels is the most labels a series may have, __name__ included.
	Labels int
	// NameBytes is the longest label name, in bytes.
	NameBytes int
	// ValueBytes is the longest label value, in bytes.
	ValueBytes int
}

// FromPipeline maps the pipeline's attribute limits to label limits: labels are what
// attributes become on a series (limits.max_attributes_per_item and
// limits.max_attribute_value_bytes in the configuration).
func FromPipeline(l pipeline.Limits) Limits {
	return Limits{Labels: l.MaxAttributes, NameBytes: l.MaxAttributeKeyLength, ValueBytes: l.MaxAttributeValueLength}
}

// Default is FromPipeline of the pipeline's default limits: 128 labels, names of 256 bytes,
// values of 16 KiB.
func Default() Limits { return FromPipeline(pipeline.DefaultLimits()) }

// Error is a series over a limit. It matches storage.ErrOutOfBounds under errors.Is, so
// that Prometheus' remote write 2.0 handler treats it as it treats other refused samples:
// it skips the sample, writes the rest and answers 400 with the message.
type Error struct {
	Reason string // one of the Reason* constants
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, storage.ErrOutOfBounds) true, see Error.
func (e *Error) Is(target error) bool { return target == storage.ErrOutOfBounds }

// Check returns a *Error naming the first limit ls is over, or nil. It only reads ls.
func (l Limits) Check(ls labels.Labels) error {
	if l.Labels > 0 {
		if n := ls.Len(); n > l.Labels {
			return &Error{Reason: ReasonTooManyLabels,
				Msg: fmt.Sprintf("series %s has %d labels, more than the limit of %d (limits.max_attributes_per_item)", short(ls), n, l.Labels)}
		}
	}
	if l.NameBytes <= 0 && l.ValueBytes <= 0 {
		return nil
	}
	var err error
	ls.Range(func(lb labels.Label) {
		if err != nil {
			return
		}
		err = l.CheckLabel(lb.Name, lb.Value)
		if err != nil {
			err = &Error{Reason: err.(*Error).Reason, Msg: fmt.Sprintf("series %s: %s", short(ls), err.Error())}
		}
	})
	return err
}

// CheckLabel returns a *Error when one label is over the name or value limit, or nil.
func (l Limits) CheckLabel(name, value string) error {
	if l.NameBytes > 0 && len(name) > l.NameBytes {
		return &Error{Reason: ReasonLabelNameTooLong,
			Msg: fmt.Sprintf("label name %.64q is %d bytes, more than the limit of %d", name, len(name), l.NameBytes)}
	}
	if l.ValueBytes > 0 && len(value) > l.ValueBytes {
		return &Error{Reason: ReasonLabelValueTooLong,
			Msg: fmt.Sprintf("value of label %.64q is %d bytes, more than the limit of %d (limits.max_attribute_value_bytes)", name, len(value), l.ValueBytes)}
	}
	return nil
}

// short names a series in an error message without copying a huge label set into it.
func short(ls labels.Labels) string {
	if name := ls.Get(labels.MetricName); name != "" {
		return fmt.Sprintf("%.128q", name)
	}
	return "without a metric name"
}

// Appendable wraps an Appendable so that every new series is checked against the limits:
// an append whose labels are over a limit returns a *Error and is not passed on. onReject,
// when not nil, is called with the reason of each refused append.
func (l Limits) Appendable(next storage.Appendable, onReject func(reason string)) storage.Appendable {
	return appendable{next: next, l: l, onReject: onReject}
}

type appendable struct {
	next     storage.Appendable
	l        Limits
	onReject func(string)
}

func (a appendable) Appender(ctx context.Context) storage.Appender {
	return &appender{Appender: a.next.Appender(ctx), a: a}
}

// appender checks the labels of appends that do not name a series the storage already
// gave a reference for (ref 0): a reference means the labels were checked before.
type appender struct {
	storage.Appender
	a appendable
}

func (app *appender) check(ref storage.SeriesRef, ls labels.Labels) error {
	if ref != 0 {
		return nil
	}
	err := app.a.l.Check(ls)
	if err != nil && app.a.onReject != nil {
		app.a.onReject(err.(*Error).Reason)
	}
	return err
}

func (app *appender) Append(ref storage.SeriesRef, ls labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if err := app.check(ref, ls); err != nil {
		return 0, err
	}
	return app.Appender.Append(ref, ls, t, v)
}

func (app *appender) AppendHistogram(ref storage.SeriesRef, ls labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if err := app.check(ref, ls); err != nil {
		return 0, err
	}
	return app.Appender.AppendHistogram(ref, ls, t, h, fh)
}

func (app *appender) AppendCTZeroSample(ref storage.SeriesRef, ls labels.Labels, t, ct int64) (storage.SeriesRef, error) {
	if err := app.check(ref, ls); err != nil {
		return 0, err
	}
	return app.Appender.AppendCTZeroSample(ref, ls, t, ct)
}

func (app *appender) AppendHistogramCTZeroSample(ref storage.SeriesRef, ls labels.Labels, t, ct int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if err := app.check(ref, ls); err != nil {
		return 0, err
	}
	return app.Appender.AppendHistogramCTZeroSample(ref, ls, t, ct, h, fh)
}
