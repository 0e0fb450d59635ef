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
	"errors"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

// ErrNotFound is returned for an unknown issue or event id. It is store.ErrNotFound, so
// the APIs map it to 404 like any other missing item.
var ErrNotFound = store.ErrNotFound

// ErrInvalid is wrapped by errors about a query or a status change that cannot be served
// as asked (unknown sort or status, malformed cursor, bad bounds); the APIs answer 400.
var ErrInvalid = errors.New("invalid request")

// Page sizes of the readers.
const (
	DefaultIssueLimit = 100
	MaxIssueLimit     = 1000
	DefaultEventLimit = 50
	MaxEventLimit     = 1000
	MaxTagValues      = 10 // values per tag key in IssueTags
)

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
	EventID   string    `json:"event_id,omitempty"` // 32 lower-case hex digits, unique; a repeated id is a duplicate
	Source    string    `json:"source,omitempty"`   // Source* constant
	Project   string    `json:"project,omitempty"`  // Sentry project id from the DSN; "" for OpenTelemetry events
	Service   string    `json:"service,omitempty"`  // service.name for OpenTelemetry; the project's name for Sentry
	Timestamp time.Time `json:"timestamp,omitzero"` // when it happened (client clock)
	Received  time.Time `json:"received,omitzero"`  // when the server accepted it

	Level       string `json:"level,omitempty"`    // fatal, error, warning, info, debug
	Platform    string `json:"platform,omitempty"` // python, go, node, java, ...
	Release     string `json:"release,omitempty"`
	Environment string `json:"environment,omitempty"`
	ServerName  string `json:"server_name,omitempty"`
	Logger      string `json:"logger,omitempty"`
	Transaction string `json:"transaction,omitempty"` // the route or task being handled (Sentry's culprit source)
	Message     string `json:"message,omitempty"`     // formatted log message, if any

	// Exceptions in Sentry's order: the last one is the one raised, earlier ones are its
	// causes (chained exceptions).
	Exceptions []Exception `json:"exceptions,omitempty"`
	// Fingerprint as sent by the SDK; nil means default grouping. "{{ default }}" stands
	// for the default fingerprint.
	Fingerprint []string `json:"fingerprint,omitempty"`

	Tags        map[string]string `json:"tags,omitempty"`
	User        *User             `json:"user,omitempty"`
	Request     *Request          `json:"request,omitempty"`
	Breadcrumbs []Breadcrumb      `json:"breadcrumbs,omitempty"`
	// Contexts and Extra are the remaining structured fields, kept as JSON-compatible values
	// after scrubbing.
	Contexts map[string]any `json:"contexts,omitempty"`
	Extra    map[string]any `json:"extra,omitempty"`

	TraceID string `json:"trace_id,omitempty"` // 32 hex digits, links the event to a trace
	SpanID  string `json:"span_id,omitempty"`  // 16 hex digits

	// GroupID is the issue this event belongs to; set by the Grouper before storage.
	GroupID string `json:"group_id,omitempty"`
	// GroupingKey is the key GroupID is derived from, prefixed with the grouping algorithm's
	// version ("v1\n..."; see group.go); set by the Grouper with GroupID. Stores keep it on
	// the issue (Issue.Fingerprint) so that grouping can be explained and versioned.
	GroupingKey string `json:"grouping_key,omitempty"`
}

// Exception is one exception of an event.
type Exception struct {
	Type    string `json:"type,omitempty"`
	Value   string `json:"value,omitempty"` // the message
	Module  string `json:"module,omitempty"`
	Handled *bool  `json:"handled,omitempty"` // nil when unknown
	// Mechanism is how it was caught ("generic", "excepthook", "onunhandledrejection", ...).
	Mechanism string `json:"mechanism,omitempty"`
	// Frames from the outermost call to the innermost (Sentry's order: the crashing frame
	// is last).
	Frames []Frame `json:"frames,omitempty"`
	// RawStacktrace is the text the frames were parsed from, when they came from text (an
	// OpenTelemetry exception.stacktrace); kept so nothing is lost when parsing is partial.
	RawStacktrace string `json:"raw_stacktrace,omitempty"`
}

// Frame is one stack frame.
type Frame struct {
	Function    string   `json:"function,omitempty"`
	Module      string   `json:"module,omitempty"` // module, package or class
	Filename    string   `json:"filename,omitempty"`
	AbsPath     string   `json:"abs_path,omitempty"`
	Lineno      int      `json:"lineno,omitempty"`
	Colno       int      `json:"colno,omitempty"`
	InApp       bool     `json:"in_app,omitempty"`
	ContextLine string   `json:"context_line,omitempty"`
	PreContext  []string `json:"pre_context,omitempty"`
	PostContext []string `json:"post_context,omitempty"`
	// Vars are the frame's local variables as the SDK sent them (JSON-compatible values),
	// scrubbed like Extra.
	Vars map[string]any `json:"vars,omitempty"`
}

// User identifies who hit the error. IPAddress is empty unless the server keeps client
// addresses (off by default).
type User struct {
	ID        string `json:"id,omitempty"`
	Email     string `json:"email,omitempty"`
	Username  string `json:"username,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// Request is the HTTP request being handled when the error happened.
type Request struct {
	Method      string            `json:"method,omitempty"`
	URL         string            `json:"url,omitempty"`
	QueryString string            `json:"query_string,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"` // after scrubbing
	// Cookies and Data (the body: a form as a map, or JSON) are kept only after
	// scrubbing; the Cookie header and cookies are filtered entirely by default.
	Cookies map[string]string `json:"cookies,omitempty"`
	Data    any               `json:"data,omitempty"`
}

// Breadcrumb is one entry of the trail of events that led to the error.
type Breadcrumb struct {
	Timestamp time.Time      `json:"timestamp,omitzero"`
	Type      string         `json:"type,omitempty"`
	Category  string         `json:"category,omitempty"`
	Level     string         `json:"level,omitempty"`
	Message   string         `json:"message,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
}

// Issue is a group of events sharing one fingerprint.
type Issue struct {
	ID          string `json:"id"`                    // stable id derived from the fingerprint (hex)
	Fingerprint string `json:"fingerprint,omitempty"` // the grouping key the id is derived from, for debugging grouping
	// GroupingVersion is the version of the grouping algorithm that created the issue
	// (GroupingVersion of group.go at the time); see group.go on changing the algorithm.
	GroupingVersion int    `json:"grouping_version,omitempty"`
	Title           string `json:"title"`             // "Type: value" or the message
	Culprit         string `json:"culprit,omitempty"` // function or transaction where it happens
	Type            string `json:"type,omitempty"`    // exception type of the first event
	Level           string `json:"level,omitempty"`
	Project         string `json:"project,omitempty"`
	Service         string `json:"service,omitempty"`
	Status          string `json:"status"` // Status* constant
	// ResolvedInRelease is set when the issue was resolved "in next release": events from
	// that release or older do not reopen it.
	ResolvedInRelease string    `json:"resolved_in_release,omitempty"`
	IgnoreUntil       time.Time `json:"ignore_until,omitzero"`  // ignored until this time (zero: no time bound)
	IgnoreCount       int64     `json:"ignore_count,omitempty"` // ignored until this many more events (0: no count bound)

	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
	Events       int64     `json:"events"`
	Users        int64     `json:"users"` // distinct user ids (or ip/email/username when no id)
	FirstRelease string    `json:"first_release,omitempty"`
	LastRelease  string    `json:"last_release,omitempty"`
	Releases     []string  `json:"releases"`     // distinct, sorted
	Environments []string  `json:"environments"` // distinct, sorted
	LastEventID  string    `json:"last_event_id,omitempty"`
}

// IssueQuery selects and sorts issues. Zero fields do not filter.
type IssueQuery struct {
	Start, End  time.Time // issues with an event (last seen) in [Start, End)
	Project     string
	Service     string
	Environment string
	Release     string
	Status      string // a Status* constant; "unresolved" includes regressed issues (unresolved ones that came back)
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
	// TraceEvents returns the events linked to one trace (traceID as Event.TraceID stores
	// it: 32 lower-case hex digits), newest first, at most limit (DefaultEventLimit when 0,
	// MaxEventLimit at most); none is an empty slice. The trace views link a span to its
	// issue through it.
	TraceEvents(ctx context.Context, traceID string, limit int) ([]Event, error)
}

// SeriesReader is an optional capability of a Reader: the series of several issues in one
// query, for the sparklines of an issue list. The result maps issue ids to their buckets
// (as IssueSeries); issues without events in the range are absent.
type SeriesReader interface {
	IssuesSeries(ctx context.Context, ids []string, start, end time.Time, step time.Duration) (map[string][]Bucket, error)
}

// Bucket is an event count in the bucket starting at Start.
type Bucket struct {
	Start time.Time `json:"start"`
	Count int64     `json:"count"`
}

// TagDistribution is the spread of one tag's values over an issue's events.
type TagDistribution struct {
	Key    string     `json:"key"`
	Values []TagValue `json:"values"` // most frequent first
}

// TagValue is one value of a tag and how many events carry it.
type TagValue struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
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
