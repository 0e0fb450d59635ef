package server

import (
	"github.com/prometheus/prometheus/model/metadata"

	"github.com/loupe-dev/loupe/internal/api/prom"
)

// mergedMetadata answers /api/v1/metadata from every metric source: OTLP (the store),
// scraped targets and StatsD. The first source that knows a metric wins.
type mergedMetadata []prom.MetadataSource

func (m mergedMetadata) Metadata() map[string]metadata.Metadata {
	out := map[string]metadata.Metadata{}
	for _, src := range m {
		for name, md := range src.Metadata() {
			if _, ok := out[name]; !ok {
				out[name] = md
			}
		}
	}
	return out
}
