package store

import "errors"

// ErrBusy is in the chain of a write refused because the store is too slow to take it now:
// its writes in flight did not finish within their deadline, or too many callers already
// wait for one (the ClickHouse backend's insert limits, chsql.InsertLimiter). It is a
// failed write like any other (a write of several inserts may have committed the ones
// before), and retryable: the same data may be sent again later. Receivers answer it as a
// throttled request (HTTP 429, gRPC UNAVAILABLE with a retry delay), as a full ingest
// queue.
var ErrBusy = errors.New("store busy")
