package pipeline

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// DefaultStreamIdle is how long a log stream counts as active after its last record,
// when Limits.StreamIdle is 0. Loki drops an idle stream from its ingesters' count after
// its chunks are flushed (chunk_idle_period, 30m by default, plus the flush); an hour
// covers that.
const DefaultStreamIdle = time.Hour

// streamSet counts the active log streams and refuses new ones beyond a limit
// (Limits.MaxLogStreams), as Loki's max_global_streams_per_user does: records of known
// streams are always accepted, records of a new stream only while there is room. A stream
// is a distinct set of resource attributes: Loki push's stream labels become exactly the
// resource attributes (ingest/loki), and the store keys its log_resources table by the
// resource (with the scope). 1M distinct streams made ingest and Loki queries orders of
// magnitude slower. Safe for concurrent use.
type streamSet struct {
	max    int
	idle   time.Duration
	seed   maphash.Seed
	active prometheus.Gauge

	mu        sync.Mutex
	lastSeen  map[uint64]int64 // stream id -> unix ns of its last record
	lastSweep int64
}

func newStreamSet(max int, idle time.Duration, active prometheus.Gauge) *streamSet {
	if idle <= 0 {
		idle = DefaultStreamIdle
	}
	return &streamSet{max: max, idle: idle, seed: maphash.MakeSeed(), active: active, lastSeen: make(map[uint64]int64)}
}

// streamID hashes a resource's attributes independently of their order: the sum of one
// hash per key and value, so no sorting and no allocation for string values.
func (s *streamSet) streamID(attrs pcommon.Map) uint64 {
	var sum uint64
	var h maphash.Hash
	h.SetSeed(s.seed)
	for k, v := range attrs.All() {
		h.Reset()
		h.WriteString(k)
		h.WriteByte(0)
		if v.Type() == pcommon.ValueTypeStr {
			h.WriteString(v.Str())
		} else {
			h.WriteByte(byte(v.Type()))
			h.WriteString(v.AsString())
		}
		sum += h.Sum64()
	}
	return sum
}

// admit records a record of the stream of attrs at now, and reports whether it may be
// stored: always for an active stream, for a new one only below the limit.
func (s *streamSet) admit(attrs pcommon.Map, now time.Time) bool {
	id := s.streamID(attrs)
	t := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if t-s.lastSweep > int64(s.idle/4) {
		s.sweep(t)
	}
	if _, ok := s.lastSeen[id]; ok {
		s.lastSeen[id] = t
		return true
	}
	if len(s.lastSeen) >= s.max {
		// Forget idle streams first, at most once a second: under a flood of new streams
		// every one would otherwise scan the whole set.
		if t-s.lastSweep < int64(time.Second) {
			return false
		}
		s.sweep(t)
		if len(s.lastSeen) >= s.max {
			return false
		}
	}
	s.lastSeen[id] = t
	s.active.Set(float64(len(s.lastSeen)))
	return true
}

// sweep forgets the streams idle longer than s.idle. s.mu must be held.
func (s *streamSet) sweep(now int64) {
	s.lastSweep = now
	for id, seen := range s.lastSeen {
		if now-seen > int64(s.idle) {
			delete(s.lastSeen, id)
		}
	}
	s.active.Set(float64(len(s.lastSeen)))
}
