package tenant

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// clock is a settable time for the limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterRate(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	x := NewLimiter("team-a", Limits{IngestRate: 10, IngestBurst: 20}, c.now)
	mustAdmit := func(items int) {
		t.Helper()
		if err := x.Admit(items, 0); err != nil {
			t.Fatalf("Admit(%d): %v", items, err)
		}
	}
	mustRefuse := func(items int, retry time.Duration) {
		t.Helper()
		err := x.Admit(items, 0)
		le, ok := AsLimit(err)
		if !ok || !errors.Is(err, ErrLimit) {
			t.Fatalf("Admit(%d) = %v, want a LimitError", items, err)
		}
		want := `tenant "team-a": tenants.limits.ingest_rate of 10 items/s exceeded`
		if le.Key != KeyIngestRate || le.Tenant != "team-a" || !strings.HasPrefix(le.Error(), want) {
			t.Fatalf("refusal %+v, want key %s and message starting %q", le, KeyIngestRate, want)
		}
		if le.RetryAfter != retry {
			t.Fatalf("RetryAfter %s, want %s", le.RetryAfter, retry)
		}
	}
	mustAdmit(15) // the burst
	mustAdmit(5)
	mustRefuse(1, time.Second) // empty: 0.1 s to one token, at least a second suggested
	c.advance(500 * time.Millisecond)
	mustAdmit(5)
	mustRefuse(1, time.Second)
	c.advance(time.Hour) // refilled to the burst, not beyond
	mustAdmit(20)
	mustRefuse(1, time.Second)
	c.advance(time.Second)      // 10 tokens
	mustRefuse(30, time.Second) // 10 more needed to fill the bucket
	x.Refund(15, 0)             // 10 + 15, capped at 20
	mustAdmit(20)
	mustRefuse(1, time.Second)
	x.Refund(3, 0)
	mustAdmit(3)

	// A request larger than the bucket passes when it is full, leaving it in debt.
	c.advance(10 * time.Second)
	mustAdmit(50)
	c.advance(2 * time.Second) // -30 + 20
	mustRefuse(1, 1100*time.Millisecond)
	c.advance(2 * time.Second)
	mustAdmit(10)
}

func TestLimiterBytesPerDay(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)}
	x := NewLimiter("b", Limits{MaxBytesPerDay: 1000}, c.now)
	if !x.CountsBytes() {
		t.Fatal("CountsBytes false with max_bytes_per_day")
	}
	if err := x.Admit(1_000_000, 600); err != nil { // no rate limit: items are free
		t.Fatal(err)
	}
	if err := x.Admit(1, 400); err != nil {
		t.Fatal(err)
	}
	err := x.Admit(1, 1)
	le, ok := AsLimit(err)
	if !ok || le.Key != KeyMaxBytesPerDay || le.RetryAfter != 0 ||
		!strings.HasPrefix(err.Error(), `tenant "b": tenants.limits.max_bytes_per_day of 1000 bytes exceeded (1000 used today, 1 more refused`) {
		t.Fatalf("Admit over the day's bytes: %v", err)
	}
	x.Refund(1, 100)
	if err := x.Admit(1, 100); err != nil {
		t.Fatalf("after a refund: %v", err)
	}
	c.advance(time.Hour) // 00:00 UTC the next day
	if err := x.Admit(1, 1000); err != nil {
		t.Fatalf("a new day: %v", err)
	}
	if err := x.Admit(1, 1); err == nil {
		t.Fatal("the new day's bytes are counted too")
	}
}

func TestLimiterRefusesWithoutTaking(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	x := NewLimiter("c", Limits{IngestRate: 1, IngestBurst: 5, MaxBytesPerDay: 100}, c.now)
	if err := x.Admit(6, 10); err != nil { // full bucket: an oversize request passes
		t.Fatal(err)
	}
	if err := x.Admit(1, 10); !errors.Is(err, ErrLimit) { // the rate refuses ...
		t.Fatalf("want the rate's refusal, got %v", err)
	}
	if err := x.Admit(0, 90); err != nil { // ... and its bytes were not taken
		t.Fatal(err)
	}
}

func TestNoLimiter(t *testing.T) {
	var x *Limiter = NewLimiter("d", Limits{MaxSeries: 5}, nil)
	if x != nil {
		t.Fatal("a limiter without rate or bytes limits")
	}
	if err := x.Admit(1<<30, 1<<40); err != nil || x.CountsBytes() {
		t.Fatal("a nil limiter admits everything and needs no bytes")
	}
	x.Refund(1, 1)
}

func TestLimitsValidate(t *testing.T) {
	if errs := (Limits{}).Validate("tenants.limits"); len(errs) != 0 {
		t.Fatal(errs)
	}
	errs := Limits{IngestRate: -1, IngestBurst: -2, MaxSeries: -3, MaxBytesPerDay: -4}.Validate("tenants.overrides.a")
	if len(errs) != 4 {
		t.Fatalf("want 4 errors, got %v", errs)
	}
	for i, want := range []string{"tenants.overrides.a.ingest_rate: -1", "ingest_burst: -2", "max_series: -3", "max_bytes_per_day: -4"} {
		if !strings.Contains(errs[i].Error(), want) {
			t.Errorf("error %d %q does not say %q", i, errs[i], want)
		}
	}
	for l, want := range map[Limits]int{{IngestRate: 0.5}: 1, {IngestRate: 10}: 10, {IngestRate: 2.5}: 3, {IngestRate: 10, IngestBurst: 3}: 3} {
		if got := l.Burst(); got != want {
			t.Errorf("%+v.Burst() = %d, want %d", l, got, want)
		}
	}
}
