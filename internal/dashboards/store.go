package dashboards

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

var (
	// ErrNotFound: no dashboard has the uid.
	ErrNotFound = errors.New("dashboard not found")
	// ErrConflict: the expected version is not the stored one (someone else saved or
	// deleted the dashboard since it was read), or a dashboard to create already exists.
	ErrConflict = errors.New("dashboard version conflict")
)

// Filter selects dashboards in List. Zero fields select everything.
type Filter struct {
	Query string // case-insensitive substring of the title or uid
	Tag   string // exact tag
}

// Matches reports whether a dashboard of this title, uid and tags passes f.
func (f Filter) Matches(uid, title string, tags []string) bool {
	if f.Tag != "" && !slices.Contains(tags, f.Tag) {
		return false
	}
	q := strings.ToLower(f.Query)
	return q == "" || strings.Contains(strings.ToLower(title), q) || strings.Contains(strings.ToLower(uid), q)
}

// Summary is a dashboard in a list.
type Summary struct {
	UID     string    `json:"uid"`
	Title   string    `json:"title"`
	Tags    []string  `json:"tags"`
	Version int64     `json:"version"`
	Updated time.Time `json:"updated"`
}

// Record is a stored dashboard with its version (Dashboard.Version is set too).
type Record struct {
	Dashboard Dashboard
	Version   int64
	Updated   time.Time
}

// VersionInfo is one stored version of a dashboard in its history.
type VersionInfo struct {
	Version int64     `json:"version"`
	Updated time.Time `json:"updated"`
	Title   string    `json:"title"`
}

// MaxVersions is how many versions of a dashboard its history keeps: the latest ones; a
// save drops the oldest beyond it.
const MaxVersions = 50

// Store keeps the dashboards written through the API (provisioned ones are read from
// files and never stored). Implementations are safe for concurrent use; a nil error from
// Put or Delete means the change is durable. The store does not validate dashboards:
// callers do (Validate) before Put.
type Store interface {
	// List returns the dashboards passing f, sorted by title then uid.
	List(ctx context.Context, f Filter) ([]Summary, error)
	// Get returns one dashboard, or ErrNotFound.
	Get(ctx context.Context, uid string) (Record, error)
	// Put stores d under d.UID. expectedVersion 0 creates it (ErrConflict when the uid
	// exists); otherwise it replaces version expectedVersion (ErrNotFound when the uid
	// does not exist, ErrConflict when the stored version differs). It returns the new
	// version: 1 on create, then one more on every update. Concurrent Puts of one
	// version: exactly one succeeds.
	Put(ctx context.Context, d Dashboard, expectedVersion int64) (int64, error)
	// Delete removes version version of a dashboard: ErrNotFound when the uid does not
	// exist, ErrConflict when the stored version differs.
	Delete(ctx context.Context, uid string, version int64) error
	// Versions lists the kept versions of a dashboard (the latest MaxVersions, the current
	// one included), newest first; ErrNotFound when the uid does not exist. Deleting a
	// dashboard deletes its history.
	Versions(ctx context.Context, uid string) ([]VersionInfo, error)
	// GetVersion returns one kept version as it was saved (Dashboard.Version set to it);
	// ErrNotFound when the uid does not exist or the version is not kept.
	GetVersion(ctx context.Context, uid string, version int64) (Record, error)
}
