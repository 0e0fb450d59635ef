// Package storetest is the conformance suite every log and span backend must pass.
//
// A backend's test calls Run (or RunLogs / RunTraces) with an Opener:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string) storetest.Store { ... })
//	}
package storetest

import (
	"io"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

// Store is what the suite needs from a backend of both logs and spans. Retention is tested
// when the store also implements store.Retainer.
type Store interface {
	LogStore
	TraceStore
}

// LogStore is what RunLogs needs.
type LogStore interface {
	store.LogWriter
	store.LogReader
	io.Closer
}

// TraceStore is what RunTraces needs.
type TraceStore interface {
	store.SpanWriter
	store.TraceReader
	io.Closer
}

// Opener opens a backend keeping its data under dir. Opening the same dir again after
// Close must see the same data (the suite tests that acknowledged writes survive a
// restart); a fresh dir must start empty. Backends without files (ClickHouse) can derive a
// database name from dir.
type Opener func(t *testing.T, dir string) Store

// LogOpener and TraceOpener are Openers of one signal's store, for backends that keep
// each signal in its own type.
type (
	LogOpener   func(t *testing.T, dir string) LogStore
	TraceOpener func(t *testing.T, dir string) TraceStore
)

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	t.Run("logs", func(t *testing.T) {
		RunLogs(t, func(t *testing.T, dir string) LogStore { return open(t, dir) })
	})
	t.Run("traces", func(t *testing.T) {
		RunTraces(t, func(t *testing.T, dir string) TraceStore { return open(t, dir) })
	})
}

// base is the start of the test data: three UTC days from here, so that day-partitioned
// backends see several partitions. Fixed, so failures reproduce.
var base = time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)

// openFresh opens a store in a new temporary directory and closes it at the end of the test.
func openFresh[S io.Closer](t *testing.T, open func(*testing.T, string) S) (S, string) {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir)
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}
