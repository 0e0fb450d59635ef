// Package runs keeps one row per batch-job run on the server: the store interface and types
// the API reads, the parsing of run records out of OTLP data, and the Tap that records runs
// as the logs and spans carrying them are written.
package runs

import (
	"context"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

// ErrNotFound is returned by GetRun for an unknown run id. It is store.ErrNotFound, so the
// APIs map it to 404 like any other missing item.
var ErrNotFound = store.ErrNotFound

// Run statuses as stored. Running is only ever seen from the start-of-run log record and
// its heartbeats; the others are final (see jobs.Record.Status). Readers show a running
// run whose heartbeats stopped as StatusLost (liveness.go).
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusKilled    = "killed"
)

// Final reports whether status ends a run: a final record replaces a running one, never
// the other way round.
func Final(status string) bool { return status != StatusRunning }

// Summary is the part of a run record that lists are filtered, sorted and shown by.
type Summary struct {
	RunID  string // 32 lower-case hex digits
	Name   string
	Status string
	Start  time.Time
	// End is zero while the run is running (and for a final record without an end time).
	End             time.Time
	DurationSeconds float64 // 0 while running
	Host            string
	User            string
	CommandLine     string
	ExitCode        int
	Signal          string
	Tags            map[string]string // never nil
	PeakRSSBytes    uint64
	MaxRSSBytes     uint64
	UserCPUSeconds  float64
	SysCPUSeconds   float64
	TraceID         string
	// LostAfter is when a running run whose heartbeats stop becomes lost (see Live);
	// zero for final records and for records without a heartbeat period.
	LostAfter time.Time
}

// Run is one parsed run record.
type Run struct {
	Summary
	// Record is the record's JSON exactly as it arrived (the loupe.run.record value).
	Record []byte
}

// Query selects runs. Zero fields do not filter.
type Query struct {
	Name string
	// Status is a stored status, or StatusLost. StatusRunning matches the running runs
	// that are not lost at Now, StatusLost those that are.
	Status string
	Host   string
	// Tags must all match: the run has each key with that exact value.
	Tags map[string]string
	// Start and End bound the run's start time: [Start, End). Zero is unbounded.
	Start, End time.Time
	// Limit is the page size: default 100, capped at 1000.
	Limit int
	// Cursor continues a previous query with the same filters: pass Page.NextCursor.
	Cursor string
	// Now is the time the running/lost filter is evaluated at; zero is time.Now().
	Now time.Time
}

// At is q.Now, or the current time when it is zero.
func (q Query) At() time.Time {
	if q.Now.IsZero() {
		return time.Now()
	}
	return q.Now
}

// Query limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of ListRuns.
type Page struct {
	Runs []Summary
	// NextCursor is "" on the last page.
	NextCursor string
}

// NameCount is one job name and how many runs it has in a time range.
type NameCount struct {
	Name      string
	Runs      int64
	LastStart time.Time
}

// Writer records runs.
type Writer interface {
	// UpsertRuns stores runs, one row per RunID, in one transaction: on nil every run is
	// committed, on error none is. A final record replaces a running one whatever the
	// order they arrive in, and is never replaced by a running one; between two records of
	// the same kind the later one wins. Upserting the same runs again (a client retry) is
	// harmless. runs may hold several records of one run. Safe for concurrent use; the
	// writer does not retain runs.
	UpsertRuns(ctx context.Context, runs []Run) error
}

// Reader queries recorded runs. Safe for concurrent use.
type Reader interface {
	// ListRuns returns runs matching q, newest start first (ties by run id, descending),
	// at most q.Limit of them, and the cursor of the next page. Summaries have the stored
	// status (running, never lost: a copy such as loupe migrate must get what was stored);
	// readers that show runs apply Summary.Live at q.Now, as the filter did.
	ListRuns(ctx context.Context, q Query) (Page, error)
	// RunNames counts the runs of each job name that started in [start, end) (zero times
	// are unbounded), sorted by name.
	RunNames(ctx context.Context, start, end time.Time) ([]NameCount, error)
	// GetRun returns the record JSON of one run as it was ingested, or ErrNotFound. runID
	// is matched case-insensitively.
	GetRun(ctx context.Context, runID string) ([]byte, error)
}

// Store is a Writer and a Reader over the same runs.
type Store interface {
	Writer
	Reader
}
