// Package errtrack turns error events into issues, as Sentry does: the event model that
// every source produces (Sentry SDKs through internal/ingest/sentry, OpenTelemetry span
// events and log records through the Tap), the grouping of events into issues by
// fingerprint, the issue lifecycle (resolved, ignored, regressed) and the store interfaces
// that backends implement (embedded DuckDB today, ClickHouse later; conformance suite in
// errtrack/errtracktest).
//
// The rules (grouping, scrubbing, status changes) live here, not in the backends, so that
// every backend behaves the same and a change of algorithm is made once.
package errtrack

import (
	"context"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

// ErrNotFound is returned for an unknown issue or event id. It is store.ErrNotFound, so
// the APIs map it to 404 like any other missing item.
var ErrNotFound = store.ErrNotFound

// Sources of events.
const (
	SourceSentry   = "sentry"    // a Sentry SDK event (envelope or store endpoint)
	SourceOTelSpan = "otel.span" // an OpenTelemetry span event named "exception"
	SourceOTelLog  = "otel.log"  // an OpenTelemetry log record with exception.* attributes
)

// Issue statuses.
const (
	StatusUnresolved = "unresolved"
	StatusResolved   = "resolved"
	StatusIgnored    = "ignored"
	// StatusRegressed is an unresolved issue that was resolved and received an event from a
	// later release (or, resolved without a release, any new event).
	StatusRegressed = "regressed"
)

// Event is one error (or message) event, normalised from whatever sent it. Strings are
// empty and slices nil when the source did not say.
type Event struct {
	EventID   string    // 32 lower-case hex digits, unique; a repeated id is a duplicate
	Source    string    // Source* constant
	Project   string    // Sentry project id from the DSN; "" for OpenTelemetry events
	Service   string    // service.name for OpenTelemetry; the project's name for Sentry
	Timestamp time.Time // when it happened (client clock)
	Received  time.Time // when the server accepted it

	Level       string // fatal, error, warning, info, debug
	Platform    string // python, go, node, java, ...
	Release     string
	Environment string
	ServerName  string
	Logger      string
	Transaction string // the route or task being handled (Sentry's culprit source)
	Message     string // formatted log message, if any

	// Exceptions in Sentry's order: the last one is the one raised, earlier ones are its
	// causes (chained exceptions).
	Exceptions []Exception
	// Fingerprint as sent by the SDK; nil means default grouping. "{{ default }}" stands
	// for the default fingerprint.
	Fingerprint []string

	Tags        map[string]string
	User        *User
	Request     *Request
	Breadcrumbs []Breadcrumb
	// Contexts and Extra are the remaining structured fields, kept as JSON-compatible values
	// after scrubbing.
	Contexts map[string]any
	Extra    map[string]any

	TraceID string // 32 hex digits, links the event to a trace
	SpanID  string // 16 hex digits

	// GroupID is the issue this event belongs to; set by the Grouper before storage.
	GroupID string
}

// Exception is one exception of an event.
type Exception struct {
	Type    string
	Value   string // the message
	Module  string
	Handled *bool // nil when unknown
	// Mechanism is how it was caught ("generic", "excepthook", "onunhandledrejection", ...).
	Mechanism string
	// Frames from the outermost call to the innermost (Sentry's order: the crashing frame
	// is last).
	Frames []Frame
	// RawStacktrace is the text the frames were parsed from, when they came from text (an
	// OpenTelemetry exception.stacktrace); kept so nothing is lost when parsing is partial.
	RawStacktrace string
}

// Frame is one stack frame.
type Frame struct {
	Function    string
	Module      string // module, package or class
	Filename    string
	AbsPath     string
	Lineno      int
	Colno       int
	InApp       bool
	ContextLine string
	PreContext  []string
	PostContext []string
}

// User identifies who hit the error. IPAddress is empty unless the server keeps client
// addresses (off by default).
type User struct {
	ID        string
	Email     string
	Username  string
	IPAddress string
}

// Request is the HTTP request being handled when the error happened.
type Request struct {
	Method      string
	URL         string
	QueryString string
	Headers     map[string]string // after scrubbing
}

// Breadcrumb is one entry of the trail of events that led to the error.
type Breadcrumb struct {
	Timestamp time.Time
	Type      string
	Category  string
	Level     string
	Message   string
	Data      map[string]any
}

// Issue is a group of events sharing one fingerprint.
type Issue struct {
	ID          string // stable id derived from the fingerprint (hex)
	Fingerprint string // the grouping key the id is derived from, for debugging grouping
	Title       string // "Type: value" or the message
	Culprit     string // function or transaction where it happens
	Type        string // exception type of the first event
	Level       string
	Project     string
	Service     string
	Status      string // Status* constant
	// ResolvedInRelease is set when the issue was resolved "in next release": events from
	// that release or older do not reopen it.
	ResolvedInRelease string
	IgnoreUntil       time.Time // ignored until this time (zero: no time bound)
	IgnoreCount       int64     // ignored until this many more events (0: no count bound)

	FirstSeen, LastSeen time.Time
	Events              int64
	Users               int64 // distinct user ids (or ip/email/username when no id)
	FirstRelease        string
	LastRelease         string
	Releases            []string // distinct, sorted
	Environments        []string // distinct, sorted
	LastEventID         string
}

// IssueQuery selects and sorts issues. Zero fields do not filter.
type IssueQuery struct {
	Start, End  time.Time // issues with an event (last seen) in [Start, End)
	Project     string
	Service     string
	Environment string
	Release     string
	Status      string
	Text        string // case-insensitive substring of title or culprit
	Sort        string // "last_seen" (default), "first_seen", "events", "users"
	Limit       int    // default 100, capped at 1,000
	Cursor      string // from IssuePage.Next
}

// IssuePage is one page of issues.
type IssuePage struct {
	Issues []Issue
	Next   string // cursor for the next page; "" at the end
}

// EventQuery is a page of one issue's events, newest first.
type EventQuery struct {
	Limit  int    // default 50, capped at 1,000
	Cursor string // from EventPage.Next
}

// EventPage is one page of events.
type EventPage struct {
	Events []Event
	Next   string
}

// Writer stores events. WriteEvents is safe for concurrent use and atomic per batch: on
// nil every event is committed (and survives a restart) and its issue's counters include
// it; on error none is. An event whose EventID is already stored is skipped without error
// and not counted again, so client retries are harmless. Events must have GroupID set.
// The first event of a group creates its issue; later events update it and apply the
// lifecycle rules of this package (a resolved issue regresses, an ignore bound expires)
// through its pure functions, inside the same transaction.
type Writer interface {
	WriteEvents(ctx context.Context, events []Event) error
}

// Reader reads issues and events. Safe for concurrent use.
type Reader interface {
	ListIssues(ctx context.Context, q IssueQuery) (IssuePage, error)
	GetIssue(ctx context.Context, id string) (Issue, error)
	IssueEvents(ctx context.Context, issueID string, q EventQuery) (EventPage, error)
	GetEvent(ctx context.Context, eventID string) (Event, error)
	// IssueSeries counts one issue's events in buckets of step over [start, end); empty
	// buckets are omitted.
	IssueSeries(ctx context.Context, issueID string, start, end time.Time, step time.Duration) ([]Bucket, error)
	// IssueTags returns, per tag key, the most frequent values of one issue's events with
	// their counts (at most 10 values per key), keys sorted.
	IssueTags(ctx context.Context, issueID string) ([]TagDistribution, error)
}

// Bucket is an event count in the bucket starting at Start.
type Bucket struct {
	Start time.Time
	Count int64
}

// TagDistribution is the spread of one tag's values over an issue's events.
type TagDistribution struct {
	Key    string
	Values []TagValue // most frequent first
}

// TagValue is one value of a tag and how many events carry it.
type TagValue struct {
	Value string
	Count int64
}

// Store is a Writer and Reader that also persists issue status changes. SetStatus
// replaces the status fields of an issue (Status, ResolvedInRelease, IgnoreUntil,
// IgnoreCount) and returns the updated issue; ErrNotFound for an unknown id.
type Store interface {
	Writer
	Reader
	SetStatus(ctx context.Context, id string, change StatusChange) (Issue, error)
}

// StatusChange is a status update of one issue.
type StatusChange struct {
	Status            string
	ResolvedInRelease string
	IgnoreUntil       time.Time
	IgnoreCount       int64
}
