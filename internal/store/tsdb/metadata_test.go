package tsdb

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
)

func TestRecordMetadata(t *testing.T) {
	s, dir, _ := openTest(t, DefaultOptions())
	md := func(family string, typ prompb.MetricMetadata_MetricType, help string) prompb.MetricMetadata {
		return prompb.MetricMetadata{MetricFamilyName: family, Type: typ, Help: help}
	}
	require.NoError(t, s.RecordMetadata([]prompb.MetricMetadata{
		md("node_cpu_seconds_total", prompb.MetricMetadata_COUNTER, "Seconds the CPUs spent in each mode."),
		md("", prompb.MetricMetadata_GAUGE, "no family: ignored"),
		md("nothing_known", prompb.MetricMetadata_UNKNOWN, ""),
		md("odd_type", prompb.MetricMetadata_MetricType(99), "an enum value this version does not know"),
	}))
	require.Equal(t, map[string]metadata.Metadata{
		"node_cpu_seconds_total": {Type: model.MetricTypeCounter, Help: "Seconds the CPUs spent in each mode."},
		"odd_type":               {Type: model.MetricTypeUnknown, Help: "an enum value this version does not know"},
	}, s.Metadata())

	// Two targets disagree on the help of one family: the current one is kept, whatever
	// the order, so that the file is not rewritten by every request.
	file := filepath.Join(dir, metadataFile)
	before, err := os.Stat(file)
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, s.RecordMetadata([]prompb.MetricMetadata{
			md("node_cpu_seconds_total", prompb.MetricMetadata_COUNTER, "Other help."),
			md("node_cpu_seconds_total", prompb.MetricMetadata_COUNTER, "Seconds the CPUs spent in each mode."),
		}))
	}
	after, err := os.Stat(file)
	require.NoError(t, err)
	// A rewrite renames a new file over the old one.
	require.True(t, os.SameFile(before, after), "unchanged metadata rewrote the file")
	require.Equal(t, "Seconds the CPUs spent in each mode.", s.Metadata()["node_cpu_seconds_total"].Help)

	// A change nobody confirms is taken (the last entry wins) and survives a restart.
	require.NoError(t, s.RecordMetadata([]prompb.MetricMetadata{
		md("node_cpu_seconds_total", prompb.MetricMetadata_COUNTER, "New help."),
	}))
	require.NoError(t, s.Close())
	s2, err := Open(dir, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s2.Close()) }()
	require.Equal(t, "New help.", s2.Metadata()["node_cpu_seconds_total"].Help)
}

func BenchmarkRecordMetadataUnchanged(b *testing.B) {
	s, err := Open(b.TempDir(), DefaultOptions(), nil, nil)
	require.NoError(b, err)
	defer s.Close()
	list := make([]prompb.MetricMetadata, 500)
	for i := range list {
		list[i] = prompb.MetricMetadata{MetricFamilyName: fmt.Sprintf("family_%d_total", i), Type: prompb.MetricMetadata_COUNTER, Help: "Help text."}
	}
	require.NoError(b, s.RecordMetadata(list))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.RecordMetadata(list); err != nil {
			b.Fatal(err)
		}
	}
}
