package pipeline

import (
	"errors"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

var (
	// ErrQueueFull is returned when a signal's queue has no room for a request. Receivers
	// answer HTTP 429 or gRPC UNAVAILABLE with a retry delay; the client should retry.
	ErrQueueFull = errors.New("ingest queue full")
	// ErrNotRunning is returned before Start and after Shutdown began. Receivers answer
	// HTTP 503 or gRPC UNAVAILABLE.
	ErrNotRunning = errors.New("ingest pipeline not running")
	// ErrStreamLimit is in the chain of the *store.PartialError of a log request some of
	// whose records were refused because they would open log streams beyond
	// Limits.MaxLogStreams (the other records are stored). Receivers answer HTTP 429, as
	// Loki does for its stream limit, and gRPC RESOURCE_EXHAUSTED.
	ErrStreamLimit = errors.New("log stream limit exceeded")
)

// streamLimitError is a partial success whose rejections include the stream limit.
type streamLimitError struct{ *store.PartialError }

func (e *streamLimitError) Unwrap() []error { return []error{e.PartialError, ErrStreamLimit} }

// ThrottleError wraps ErrQueueFull, ErrNotRunning or a write refused with store.ErrBusy with the delay after which the client
// should try again.
type ThrottleError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *ThrottleError) Error() string { return e.Err.Error() }
func (e *ThrottleError) Unwrap() error { return e.Err }

// PermanentError marks an error that will not go away when the same data is sent again
// (malformed or unacceptable data). Receivers answer HTTP 400 or gRPC INVALID_ARGUMENT.
type PermanentError struct {
	Err error
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// NewPermanent marks err as permanent. A nil err stays nil.
func NewPermanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or an error it wraps, is a PermanentError.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}

// IsPartial reports whether err is a *store.PartialError: the request was committed except
// for the items it counts.
func IsPartial(err error) bool {
	var pe *store.PartialError
	return errors.As(err, &pe)
}

// IsRetryable reports whether sending the same data again may succeed: every non-nil error
// that is neither permanent nor a partial success (queue full, not running, store failures,
// timeouts).
func IsRetryable(err error) bool {
	return err != nil && !IsPermanent(err) && !IsPartial(err)
}

// IsThrottled reports whether err asks the client to slow down and retry: a full ingest
// queue (ErrQueueFull) or a store too slow to take the write now (store.ErrBusy, the
// ClickHouse backend's insert limits). Receivers answer HTTP 429 and gRPC UNAVAILABLE
// with the RetryAfter delay.
func IsThrottled(err error) bool {
	return errors.Is(err, ErrQueueFull) || errors.Is(err, store.ErrBusy)
}

// RetryAfter returns the delay suggested by a ThrottleError in err's chain.
func RetryAfter(err error) (time.Duration, bool) {
	var te *ThrottleError
	if errors.As(err, &te) {
		return te.RetryAfter, true
	}
	return 0, false
}
