package statsd

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// FuzzParseLine feeds arbitrary packets through every parser and the aggregator: no
// panic, every error is a *ParseError, and what parses aggregates and flushes.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"hits:1|c", "hits:2|c|@0.1|#env:prod,route:/x", "temp:+3|g", "t:320|ms", "h:1:2:3|h",
		"d:0.5|d|T1700000000|c:abc", "users:alice|s", "_e{5,4}:title|text|t:error|#a:b",
		"_sc|db|2|h:x|#a:b|m:msg", "x:1|c\ny:2|g\n", ":|", "_e{", "_sc|", "a:1|c|#,,:",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, packet []byte) {
		agg := newAggregator(Default().Buckets, map[string]string{"job": "statsd"}, time.Minute)
		for _, line := range bytes.Split(packet, []byte{'\n'}) {
			var err error
			switch {
			case bytes.HasPrefix(line, []byte("_e{")):
				var e Event
				if e, err = ParseEvent(line); err == nil {
					appendEvent(plog.NewLogs(), e, time.Now())
				}
			case bytes.HasPrefix(line, []byte("_sc|")):
				var c ServiceCheck
				if c, err = ParseServiceCheck(line); err == nil {
					appendServiceCheck(plog.NewLogs(), c, time.Now())
				}
			default:
				var m Metric
				if m, err = ParseMetric(line); err == nil {
					require.NotEmpty(t, m.Name)
					require.True(t, m.SampleRate > 0 && m.SampleRate <= 1)
					agg.add(&m, time.Now())
				}
			}
			if err != nil {
				var pe *ParseError
				require.True(t, errors.As(err, &pe), "%T %v", err, err)
				require.NotEmpty(t, pe.Reason)
			}
		}
		_, _, _ = agg.flush(discardAppender{}, time.Now())
	})
}

// discardAppender accepts and forgets every sample.
type discardAppender struct{ storage.Appender }

func (discardAppender) Append(ref storage.SeriesRef, _ labels.Labels, _ int64, _ float64) (storage.SeriesRef, error) {
	return ref, nil
}

type discardAppendable struct{}

func (discardAppendable) Appender(context.Context) storage.Appender { return discardAppender{} }
