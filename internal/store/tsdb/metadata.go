package tsdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/fileutil"
)

// metadataFile holds the type, help and unit of every metric family written over OTLP.
// The TSDB keeps series metadata only in the head block (it is lost at compaction), and
// the set is small (one entry per family), so a JSON file rewritten on change is enough.
const metadataFile = "loupe-metadata.json"

type metadataFileContent struct {
	Version int                          `json:"version"`
	Metrics map[string]metadata.Metadata `json:"metrics"`
}

// metadataStore keeps the latest metadata per metric family, in memory and on disk.
type metadataStore struct {
	path string

	mu     sync.RWMutex
	byName map[string]metadata.Metadata
}

func openMetadataStore(dir string) (*metadataStore, error) {
	m := &metadataStore{path: filepath.Join(dir, metadataFile), byName: map[string]metadata.Metadata{}}
	b, err := os.ReadFile(m.path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metric metadata: %w", err)
	}
	var c metadataFileContent
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parse metric metadata %s: %w", m.path, err)
	}
	if c.Version != 1 {
		return nil, fmt.Errorf("metric metadata %s: unknown version %d", m.path, c.Version)
	}
	if c.Metrics != nil {
		m.byName = c.Metrics
	}
	return m, nil
}

// update records the metadata of a translated batch and persists it when anything changed.
// Safe for concurrent use; writers that change nothing only take the read lock.
func (m *metadataStore) update(list []prompb.MetricMetadata) error {
	named := make([]namedMetadata, len(list))
	for i, pm := range list {
		named[i] = namedMetadata{pm.MetricFamilyName, fromProto(pm)}
	}
	return m.set(named)
}

// namedMetadata is the metadata of one family.
type namedMetadata struct {
	family string
	meta   metadata.Metadata
}

// set records list (several entries may name the same family) and persists the result
// when anything changed. A family keeps its current metadata when any entry of list
// equals it, otherwise takes the last entry: remote write senders pass on what each of
// their targets says, in no fixed order, and targets of one family may disagree (help
// texts of two versions of an exporter); without this rule every such request would
// flip the family and rewrite the file.
func (m *metadataStore) set(list []namedMetadata) error {
	changed := m.changed(list)
	if len(changed) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := maps.Clone(m.byName)
	maps.Copy(next, changed)
	if err := m.persist(next); err != nil {
		return err
	}
	m.byName = next
	return nil
}

// changed returns the families whose metadata list changes, with their new metadata.
func (m *metadataStore) changed(list []namedMetadata) map[string]metadata.Metadata {
	m.mu.RLock()
	defer m.mu.RUnlock()
	// The common case, every entry as stored (remote write 2.0 repeats metadata in every
	// request), allocates nothing.
	differs := false
	for _, e := range list {
		if cur, ok := m.byName[e.family]; !ok || cur != e.meta {
			differs = true
			break
		}
	}
	if !differs {
		return nil
	}
	var out map[string]metadata.Metadata
	keep := map[string]bool{} // families that list confirms
	for _, e := range list {
		cur, ok := m.byName[e.family]
		if ok && cur == e.meta {
			keep[e.family] = true
			continue
		}
		if out == nil {
			out = map[string]metadata.Metadata{}
		}
		out[e.family] = e.meta
	}
	for family := range keep {
		delete(out, family)
	}
	return out
}

// persist writes the file atomically: a crash leaves either the old or the new content.
func (m *metadataStore) persist(byName map[string]metadata.Metadata) error {
	b, err := json.Marshal(metadataFileContent{Version: 1, Metrics: byName})
	if err != nil {
		return fmt.Errorf("encode metric metadata: %w", err)
	}
	tmp := m.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write metric metadata: %w", err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("write metric metadata: %w", err)
	}
	// fileutil.Rename also syncs the directory, so the rename itself is durable.
	if err := fileutil.Rename(tmp, m.path); err != nil {
		return fmt.Errorf("write metric metadata: %w", err)
	}
	return nil
}

// all returns a copy of the metadata by family name.
func (m *metadataStore) all() map[string]metadata.Metadata {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return maps.Clone(m.byName)
}

func fromProto(pm prompb.MetricMetadata) metadata.Metadata {
	return metadata.Metadata{Type: metricType(pm.Type), Unit: pm.Unit, Help: pm.Help}
}

// metricType converts without allocating for the known types (remote write sends the
// metadata of every family, and 2.0 of every series, in each request).
func metricType(t prompb.MetricMetadata_MetricType) model.MetricType {
	switch t {
	case prompb.MetricMetadata_COUNTER:
		return model.MetricTypeCounter
	case prompb.MetricMetadata_GAUGE:
		return model.MetricTypeGauge
	case prompb.MetricMetadata_HISTOGRAM:
		return model.MetricTypeHistogram
	case prompb.MetricMetadata_GAUGEHISTOGRAM:
		return model.MetricTypeGaugeHistogram
	case prompb.MetricMetadata_SUMMARY:
		return model.MetricTypeSummary
	case prompb.MetricMetadata_INFO:
		return model.MetricTypeInfo
	case prompb.MetricMetadata_STATESET:
		return model.MetricTypeStateset
	case prompb.MetricMetadata_UNKNOWN:
		return model.MetricTypeUnknown
	}
	// The enum names are the upper-case Prometheus type names (GAUGEHISTOGRAM, ...).
	return model.MetricType(strings.ToLower(t.String()))
}

// Metadata returns the type, help and unit of every metric family written over OTLP or
// recorded with RecordMetadata, by family name (e.g. "http_server_request_duration_seconds").
// The map is a copy.
func (s *Store) Metadata() map[string]metadata.Metadata {
	return s.meta.all()
}

// RecordMetadata keeps the type, help and unit of metric families that arrived another
// way than OTLP (remote write), by family name, on disk with the OTLP ones. Entries with
// an empty family name or nothing known (type unknown, no help, no unit) are ignored.
// When entries of one family disagree, the family keeps its current metadata if any entry
// equals it, else takes the last. Safe for concurrent use; a call that changes nothing
// costs a read lock and a lookup per entry.
func (s *Store) RecordMetadata(list []prompb.MetricMetadata) error {
	named := make([]namedMetadata, 0, len(list))
	for _, pm := range list {
		md := fromProto(pm)
		if _, known := prompb.MetricMetadata_MetricType_name[int32(pm.Type)]; !known {
			md.Type = model.MetricTypeUnknown // a sender's newer type, or garbage
		}
		if pm.MetricFamilyName == "" || md == (metadata.Metadata{Type: model.MetricTypeUnknown}) {
			continue
		}
		named = append(named, namedMetadata{pm.MetricFamilyName, md})
	}
	if err := s.meta.set(named); err != nil {
		return fmt.Errorf("record metric metadata: %w", err)
	}
	return nil
}
