package tenant

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Limits bound what one tenant may ingest (tenants.limits, docs/security.md, Limits per
// tenant). Zero means no limit. They apply to every tenant, the default one included, and
// also with tenants off, where everything is the default tenant's.
type Limits struct {
	// IngestRate is the items (log records, spans, metric data points or samples,
	// profiles) accepted per second, on average: a token bucket refilled at this rate.
	IngestRate float64 `yaml:"ingest_rate"`
	// IngestBurst is the bucket's size, the most items taken at once after a quiet
	// period; 0 means IngestRate (rounded up).
	IngestBurst int `yaml:"ingest_burst"`
	// MaxSeries bounds the series of the tenant's metric store (the TSDB head): samples
	// of new series beyond it are refused, those of existing series accepted.
	MaxSeries int `yaml:"max_series"`
	// MaxBytesPerDay bounds the bytes accepted per UTC day (Limiter.Admit says how they
	// are measured).
	MaxBytesPerDay int64 `yaml:"max_bytes_per_day"`
}

// The limits' keys, as configured and as named in refusals and in the reason label of
// the refusal counters.
const (
	KeyIngestRate     = "ingest_rate"
	KeyMaxSeries      = "max_series"
	KeyMaxBytesPerDay = "max_bytes_per_day"
)

// Validate names every negative limit, under prefix (such as "tenants.limits").
func (l Limits) Validate(prefix string) []error {
	var errs []error
	if l.IngestRate < 0 {
		errs = append(errs, fmt.Errorf("%s.%s: %v: must be 0 (no limit) or positive", prefix, KeyIngestRate, l.IngestRate))
	}
	if l.IngestBurst < 0 {
		errs = append(errs, fmt.Errorf("%s.ingest_burst: %d: must be 0 (the rate) or positive", prefix, l.IngestBurst))
	}
	if l.MaxSeries < 0 {
		errs = append(errs, fmt.Errorf("%s.%s: %d: must be 0 (no limit) or positive", prefix, KeyMaxSeries, l.MaxSeries))
	}
	if l.MaxBytesPerDay < 0 {
		errs = append(errs, fmt.Errorf("%s.%s: %d: must be 0 (no limit) or positive", prefix, KeyMaxBytesPerDay, l.MaxBytesPerDay))
	}
	return errs
}

// Burst is the token bucket's size: IngestBurst, else IngestRate rounded up (at least 1).
func (l Limits) Burst() int {
	if l.IngestBurst > 0 {
		return l.IngestBurst
	}
	b := int(l.IngestRate)
	if float64(b) < l.IngestRate || b < 1 {
		b++
	}
	return b
}

// ErrLimit is in the chain of every refusal for a tenant's limits (a *LimitError).
// Receivers answer HTTP 429 and gRPC RESOURCE_EXHAUSTED with its message, which names
// the tenant and the limit's key.
var ErrLimit = errors.New("tenant limit exceeded")

// LimitError is a refusal for one of a tenant's limits. Nothing of the refused items was
// stored.
type LimitError struct {
	Tenant string
	Key    string // KeyIngestRate, KeyMaxSeries or KeyMaxBytesPerDay
	Msg    string
	// RetryAfter is when sending again may succeed (the rate limit); 0 when it will not
	// before the day ends or series go away.
	RetryAfter time.Duration
}

func (e *LimitError) Error() string        { return e.Msg }
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// NewLimitError builds the refusal of tenant id for the limit key of value limit (in
// unit), with detail appended, as `tenant "a": tenants.limits.ingest_rate of 10 items/s
// exceeded (detail)`.
func NewLimitError(id, key, limit, detail string) *LimitError {
	msg := fmt.Sprintf("tenant %q: tenants.limits.%s of %s exceeded", id, key, limit)
	if detail != "" {
		msg += " (" + detail + ")"
	}
	return &LimitError{Tenant: id, Key: key, Msg: msg}
}

// Admitter takes items and bytes of a signal from a tenant's limits, or refuses them with
// a *LimitError: pipeline.Pipeline's AdmitTenant, for the paths that write to a store
// themselves (remote write, Pyroscope profiles).
type Admitter interface {
	AdmitTenant(signal string, items int, bytes int64) error
}

// AsLimit returns the *LimitError in err's chain.
func AsLimit(err error) (*LimitError, bool) {
	var le *LimitError
	ok := errors.As(err, &le)
	return le, ok
}

// Limiter enforces a tenant's ingest rate and bytes per day (MaxSeries is the metric
// store's). A nil *Limiter admits everything. Safe for concurrent use.
//
// The rate is a token bucket of Burst tokens refilled at IngestRate per second; a request
// of n items takes n tokens or is refused whole. A request larger than the bucket is
// admitted when the bucket is full and leaves it in debt, so that the average rate still
// holds. The bytes are counted per UTC day and kept in memory: a restart starts the day's
// count again.
type Limiter struct {
	id  string
	l   Limits
	now func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time
	day    int64 // days since the Unix epoch (UTC) that used counts
	used   int64
}

// NewLimiter returns the limiter of tenant id, nil when l has neither a rate nor a bytes
// limit. now is the clock (time.Now; tests pass their own).
func NewLimiter(id string, l Limits, now func() time.Time) *Limiter {
	if l.IngestRate <= 0 && l.MaxBytesPerDay <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{id: id, l: l, now: now, tokens: float64(l.Burst()), last: now()}
}

// CountsBytes reports whether Admit needs the bytes, so that callers measure them only then.
func (x *Limiter) CountsBytes() bool { return x != nil && x.l.MaxBytesPerDay > 0 }

// Admit takes items from the rate and bytes from the day's budget, or refuses with a
// *LimitError and takes nothing.
func (x *Limiter) Admit(items int, bytes int64) error {
	if x == nil {
		return nil
	}
	now := x.now()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.l.MaxBytesPerDay > 0 {
		if day := unixDay(now); day != x.day {
			x.day, x.used = day, 0
		}
		if x.used+bytes > x.l.MaxBytesPerDay {
			return NewLimitError(x.id, KeyMaxBytesPerDay, fmt.Sprintf("%d bytes", x.l.MaxBytesPerDay),
				fmt.Sprintf("%d used today, %d more refused; the count starts again at 00:00 UTC", x.used, bytes))
		}
	}
	if x.l.IngestRate > 0 && items > 0 {
		burst := float64(x.l.Burst())
		if d := now.Sub(x.last); d > 0 {
			x.tokens = min(burst, x.tokens+d.Seconds()*x.l.IngestRate)
		}
		x.last = now
		need := float64(items)
		if x.tokens < need && x.tokens < burst {
			wait := time.Duration((min(need, burst) - x.tokens) / x.l.IngestRate * float64(time.Second))
			e := NewLimitError(x.id, KeyIngestRate, fmt.Sprintf("%g items/s", x.l.IngestRate),
				fmt.Sprintf("burst %d, %d items refused", x.l.Burst(), items))
			e.RetryAfter = max(wait, time.Second)
			return e
		}
		x.tokens -= need
	}
	x.used += bytes
	return nil
}

// Refund gives back what Admit took for items that were not stored after all (a full
// queue refused them), so that the client's retry is not charged twice.
func (x *Limiter) Refund(items int, bytes int64) {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.l.IngestRate > 0 {
		x.tokens = min(float64(x.l.Burst()), x.tokens+float64(items))
	}
	if x.used >= bytes {
		x.used -= bytes
	}
}

func unixDay(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s < 0 && s%86400 != 0 {
		d--
	}
	return d
}
