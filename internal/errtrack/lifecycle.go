package errtrack

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The issue lifecycle as pure functions, so that every store applies the same rules inside
// its write transaction:
//
//   - unresolved (or regressed): new events only update counters.
//   - resolved without a release: any new event reopens the issue as regressed.
//   - resolved in next release (ResolvedInRelease = the latest release seen when it was
//     resolved): an event from a later release (ReleaseNewer) reopens it as regressed;
//     events from that release or older, or without a release, are counted and the
//     issue stays resolved.
//   - ignored until a time: the first event at or after that time makes it unresolved.
//   - ignored for a count: each event counts down IgnoreCount; at zero it is unresolved.
//   - ignored without bounds: stays ignored.
//
// The bounds of an ignore are checked when an event comes: an issue ignored for an hour
// that gets no event stays listed as ignored.

// ReleaseInfo tells when a release was first seen (in the issue's project or service),
// for comparing releases that are not semantic versions. ok is false when unknown.
type ReleaseInfo func(release string) (firstSeen time.Time, ok bool)

// ApplyEvent returns the issue updated by one new event, and whether the event regressed
// it. It updates counters, first/last seen, releases, environments and the status; Users
// is the store's (distinct users need the store's memory). An issue with an empty ID is
// created from the event.
func ApplyEvent(is Issue, ev *Event, releases ReleaseInfo) (Issue, bool) {
	ts := ev.Timestamp
	if is.ID == "" {
		is = Issue{
			ID: ev.GroupID, Fingerprint: ev.GroupingKey, GroupingVersion: GroupingKeyVersion(ev.GroupingKey),
			Title: Title(ev), Culprit: Culprit(ev), Level: ev.Level,
			Project: ev.Project, Service: ev.Service, Status: StatusUnresolved,
			FirstSeen: ts, LastSeen: ts, FirstRelease: ev.Release,
		}
		if n := len(ev.Exceptions); n > 0 {
			is.Type = ev.Exceptions[n-1].Type
		}
	}
	regressed := false
	switch is.Status {
	case StatusResolved:
		if is.ResolvedInRelease == "" || (ev.Release != "" && ReleaseNewer(ev.Release, is.ResolvedInRelease, releases)) {
			is.Status, is.ResolvedInRelease = StatusRegressed, ""
			regressed = true
		}
	case StatusIgnored:
		switch {
		case !is.IgnoreUntil.IsZero() && !ev.Received.Before(is.IgnoreUntil):
			is.Status = StatusUnresolved
		case is.IgnoreCount > 0:
			is.IgnoreCount--
			if is.IgnoreCount == 0 {
				is.Status = StatusUnresolved
			}
		}
		if is.Status == StatusUnresolved {
			is.IgnoreUntil, is.IgnoreCount = time.Time{}, 0
		}
	}
	is.Events++
	if ts.Before(is.FirstSeen) || is.FirstSeen.IsZero() {
		is.FirstSeen = ts
		if ev.Release != "" {
			is.FirstRelease = ev.Release
		}
	}
	if !ts.Before(is.LastSeen) {
		is.LastSeen = ts
		is.LastEventID = ev.EventID
		if ev.Release != "" {
			is.LastRelease = ev.Release
		}
		if ev.Level != "" {
			is.Level = ev.Level
		}
	}
	if is.FirstRelease == "" && ev.Release != "" {
		is.FirstRelease = ev.Release
	}
	is.Releases = addSorted(is.Releases, ev.Release)
	is.Environments = addSorted(is.Environments, ev.Environment)
	return is, regressed
}

func addSorted(list []string, v string) []string {
	if v == "" {
		return list
	}
	i, found := slices.BinarySearch(list, v)
	if found {
		return list
	}
	return slices.Insert(slices.Clip(list), i, v)
}

// ApplyStatus returns the issue with a status change applied, after checking it.
// "resolved in next release" is StatusResolved with ResolvedInRelease set (the API fills
// it with the issue's LastRelease). Setting unresolved clears every bound.
func ApplyStatus(is Issue, c StatusChange) (Issue, error) {
	if err := c.Validate(); err != nil {
		return is, err
	}
	is.Status = c.Status
	is.ResolvedInRelease, is.IgnoreUntil, is.IgnoreCount = "", time.Time{}, 0
	switch c.Status {
	case StatusResolved:
		is.ResolvedInRelease = c.ResolvedInRelease
	case StatusIgnored:
		is.IgnoreUntil, is.IgnoreCount = c.IgnoreUntil, c.IgnoreCount
	}
	return is, nil
}

// Validate checks a status change: a known status, a release only with resolved, bounds
// only with ignored, a count not negative.
func (c StatusChange) Validate() error {
	switch c.Status {
	case StatusUnresolved, StatusResolved, StatusIgnored:
	case StatusRegressed:
		return fmt.Errorf("%w: status %q is set by the server, not by a change", ErrInvalid, c.Status)
	default:
		return fmt.Errorf("%w: unknown status %q (want unresolved, resolved or ignored)", ErrInvalid, c.Status)
	}
	if c.ResolvedInRelease != "" && c.Status != StatusResolved {
		return fmt.Errorf("%w: resolved_in_release is only for status resolved", ErrInvalid)
	}
	if (!c.IgnoreUntil.IsZero() || c.IgnoreCount != 0) && c.Status != StatusIgnored {
		return fmt.Errorf("%w: ignore bounds are only for status ignored", ErrInvalid)
	}
	if c.IgnoreCount < 0 {
		return fmt.Errorf("%w: ignore count must not be negative, got %d", ErrInvalid, c.IgnoreCount)
	}
	return nil
}

// ReleaseNewer reports whether release a is later than release b. Semantic versions
// (optionally prefixed "v" or "name@", as Sentry releases often are: "api@1.2.3")
// compare by version, pre-releases before their release. Otherwise a is newer when it is
// a different release first seen after b (releases); without that information, it is not.
func ReleaseNewer(a, b string, releases ReleaseInfo) bool {
	if a == b {
		return false
	}
	if c, ok := CompareReleases(a, b); ok {
		return c > 0
	}
	if releases == nil {
		return false
	}
	ta, okA := releases(a)
	tb, okB := releases(b)
	return okA && okB && ta.After(tb)
}

// CompareReleases compares two releases as semantic versions: -1, 0 or 1, and ok false
// when either is not one (or their package prefixes differ).
func CompareReleases(a, b string) (int, bool) {
	pa, va, okA := parseSemver(a)
	pb, vb, okB := parseSemver(b)
	if !okA || !okB || pa != pb {
		return 0, false
	}
	for i := range 3 {
		if va.nums[i] != vb.nums[i] {
			if va.nums[i] < vb.nums[i] {
				return -1, true
			}
			return 1, true
		}
	}
	return comparePre(va.pre, vb.pre), true
}

type semver struct {
	nums [3]uint64
	pre  string
}

// parseSemver accepts "1", "1.2", "1.2.3", with an optional "v", pre-release ("-rc.1")
// and build ("+abc", ignored), after an optional "package@" prefix.
func parseSemver(s string) (prefix string, v semver, ok bool) {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		prefix, s = s[:i], s[i+1:]
	}
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s, v.pre = s[:i], s[i+1:]
		if v.pre == "" {
			return "", semver{}, false
		}
	}
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return "", semver{}, false
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return "", semver{}, false
		}
		v.nums[i] = n
	}
	return prefix, v, true
}

// comparePre orders pre-releases as semver does: none is newest; dot-separated fields
// compare numerically when both are numbers, else as text.
func comparePre(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	fa, fb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(fa) && i < len(fb); i++ {
		na, errA := strconv.ParseUint(fa[i], 10, 64)
		nb, errB := strconv.ParseUint(fb[i], 10, 64)
		switch {
		case errA == nil && errB == nil:
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
		case errA == nil:
			return -1
		case errB == nil:
			return 1
		default:
			if c := strings.Compare(fa[i], fb[i]); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(fa) < len(fb):
		return -1
	case len(fa) > len(fb):
		return 1
	}
	return 0
}
