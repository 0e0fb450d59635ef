package pyroscope

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/loupe-dev/loupe/internal/api/profiles"
	"github.com/loupe-dev/loupe/internal/querylimit"
	"github.com/loupe-dev/loupe/internal/store"
)

// Pyroscope's private labels describe a series' profile type. Loupe keeps the type apart
// from the series labels, so these are answered from the type: matchers on them select
// types, and label names and values list them as Pyroscope does.
var privateLabels = []struct {
	name string
	of   func(store.ProfileType) string
}{
	{"__profile_type__", store.ProfileType.ID},
	{"__name__", func(t store.ProfileType) string { return t.Name }},
	{"__type__", func(t store.ProfileType) string { return t.SampleType }},
	{"__unit__", func(t store.ProfileType) string { return t.SampleUnit }},
	{"__period_type__", func(t store.ProfileType) string { return t.PeriodType }},
	{"__period_unit__", func(t store.ProfileType) string { return t.PeriodUnit }},
}

func privateLabel(name string) (func(store.ProfileType) string, bool) {
	for _, p := range privateLabels {
		if p.name == name {
			return p.of, true
		}
	}
	return nil, false
}

// typeMatches reports whether t passes every matcher on a private label.
func typeMatches(t store.ProfileType, private []*labels.Matcher) bool {
	for _, m := range private {
		of, _ := privateLabel(m.Name)
		if !m.Matches(of(t)) {
			return false
		}
	}
	return true
}

// splitMatchers separates the matchers on private labels from those on series labels.
func splitMatchers(ms []*labels.Matcher) (private, series []*labels.Matcher) {
	for _, m := range ms {
		if _, ok := privateLabel(m.Name); ok {
			private = append(private, m)
		} else {
			series = append(series, m)
		}
	}
	return private, series
}

// invalid is a request error: Connect's InvalidArgument (HTTP 400).
func invalid(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

// storeError turns a store error into the Connect error a client can act on.
func storeError(ctx context.Context, err error) error {
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, querylimit.Timeout(ctx, err))
	}
	return connect.NewError(connect.CodeInternal, err)
}

// timeRange converts a request's milliseconds. Both 0 (older clients send no range for
// profile types) means all time.
func (q *Querier) timeRange(startMs, endMs int64) (time.Time, time.Time, error) {
	if startMs == 0 && endMs == 0 {
		return time.Unix(0, 0).UTC(), q.now().Add(time.Hour), nil
	}
	return msRange(startMs, endMs)
}

// maxMs is the last millisecond the store can keep (int64 nanoseconds, in 2262).
const maxMs = math.MaxInt64 / int64(time.Millisecond)

// msRange converts and checks a request's range in milliseconds since the epoch.
func msRange(startMs, endMs int64) (time.Time, time.Time, error) {
	for _, f := range []struct {
		name string
		ms   int64
	}{{"start", startMs}, {"end", endMs}} {
		if f.ms < 0 || f.ms > maxMs {
			return time.Time{}, time.Time{}, invalid("%s: %d is out of range, want milliseconds since the epoch from 0 to %d", f.name, f.ms, maxMs)
		}
	}
	start, end := time.UnixMilli(startMs).UTC(), time.UnixMilli(endMs).UTC()
	if !start.Before(end) {
		return start, end, invalid("end %d is not after start %d (milliseconds since the epoch)", endMs, startMs)
	}
	return start, end, nil
}

// selectors turns label selectors (OR'ed, as Pyroscope's repeated matchers are) into
// store selectors for [start, end). Without matchers on private labels one selector per
// label selector covers every type (Type ""); with them, one per matching type.
func (q *Querier) selectors(ctx context.Context, selectorStrings []string, start, end time.Time, perType bool) ([]store.ProfileSelector, error) {
	if len(selectorStrings) == 0 {
		selectorStrings = []string{""}
	}
	var types []store.ProfileType // listed once, when needed
	var out []store.ProfileSelector
	for _, s := range selectorStrings {
		ms, err := q.parseSelector("matchers", s)
		if err != nil {
			return nil, err
		}
		private, series := splitMatchers(ms)
		if len(private) == 0 && !perType {
			out = append(out, store.ProfileSelector{Matchers: series, Start: start, End: end})
			continue
		}
		if types == nil {
			if types, err = q.reader.ProfileTypes(ctx, start, end); err != nil {
				return nil, storeError(ctx, err)
			}
		}
		for _, t := range types {
			if typeMatches(t, private) {
				out = append(out, store.ProfileSelector{Type: t.ID(), Matchers: series, Start: start, End: end})
			}
		}
	}
	return out, nil
}

// parseSelector checks a selector against the expression limits and parses it; errors
// are InvalidArgument naming field.
func (q *Querier) parseSelector(field, s string) ([]*labels.Matcher, error) {
	if err := querylimit.CheckExpr(s, q.expr); err != nil {
		return nil, invalid("%s: %v", field, err)
	}
	ms, err := profiles.ParseSelector(s)
	if err != nil {
		return nil, invalid("%s %q: %v", field, s, err)
	}
	return ms, nil
}

// typedSelector is the selector of a Select* request: one profile type and one label
// selector. ok is false when a matcher on a private label excludes the type.
func (q *Querier) typedSelector(typeID, selector string, startMs, endMs int64) (sel store.ProfileSelector, typ store.ProfileType, ok bool, err error) {
	typ, err = store.ParseProfileType(typeID)
	if err != nil {
		return sel, typ, false, invalid("profile_typeID: %v", err)
	}
	ms, err := q.parseSelector("label_selector", selector)
	if err != nil {
		return sel, typ, false, err
	}
	private, series := splitMatchers(ms)
	start, end, err := msRange(startMs, endMs)
	if err != nil {
		return sel, typ, false, err
	}
	sel = store.ProfileSelector{Type: typ.ID(), Matchers: series, Start: start, End: end}
	return sel, typ, typeMatches(typ, private), nil
}

// spanSelector checks span IDs (16 hex digits, as pyroscope-go records them) as the
// native API does.
func spanSelector(ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := profiles.CheckSpanID(id); err != nil {
			return nil, invalid("span_selector: %v", err)
		}
		out = append(out, strings.ToLower(id))
	}
	return out, nil
}

// callSite keeps the stacks that start (root first) with the call site's functions, as
// Pyroscope's stack trace selector does: the flame graph of what runs under that path.
func callSite(stacks []store.StackValue, site []string) []store.StackValue {
	if len(site) == 0 {
		return stacks
	}
	return slices.DeleteFunc(stacks, func(s store.StackValue) bool {
		if len(s.Stack) < len(site) {
			return true
		}
		for i, name := range site {
			if s.Stack[len(s.Stack)-1-i].Function != name {
				return true
			}
		}
		return false
	})
}
