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
	if !m.changes(list) {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := maps.Clone(m.byName)
	for _, pm := range list {
		next[pm.MetricFamilyName] = fromProto(pm)
	}
	if err := m.persist(next); err != nil {
		return err
	}
	m.byName = next
	return nil
}

func (m *metadataStore) changes(list []prompb.MetricMetadata) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, pm := range list {
		if cur, ok := m.byName[pm.MetricFamilyName]; !ok || cur != fromProto(pm) {
			return true
		}
	}
	return false
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
	return metadata.Metadata{
		// The enum names are the upper-case Prometheus type names (GAUGEHISTOGRAM, ...).
		Type: model.MetricType(strings.ToLower(pm.Type.String())),
		Unit: pm.Unit,
		Help: pm.Help,
	}
}

// Metadata returns the type, help and unit of every metric family written over OTLP, by
// family name (e.g. "http_server_request_duration_seconds"). The map is a copy.
func (s *Store) Metadata() map[string]metadata.Metadata {
	return s.meta.all()
}
