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

// Store is what the suite needs from a backend. Retention is tested when the store also
// implements store.Retainer.
type Store interface {
	store.LogWriter
	store.LogReader
	store.SpanWriter
	store.TraceReader
	io.Closer
}

// Opener opens a backend keeping its data under dir. Opening the same dir again after
// Close must see the same data (the suite tests that acknowledged writes survive a
// restart); a fresh dir must start empty. Backends without files (ClickHouse) can derive a
// database name from dir.
type Opener func(t *testing.T, dir string) Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	t.Run("logs", func(t *testing.T) { RunLogs(t, open) })
	t.Run("traces", func(t *testing.T) { RunTraces(t, open) })
}

// base is the start of the test data: three UTC days from here, so that day-partitioned
// backends see several partitions. Fixed, so failures reproduce.
var base = time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)

// openFresh opens a store in a new temporary directory and closes it at the end of the test.
func openFresh(t *testing.T, open Opener) (Store, string) {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir)
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}
