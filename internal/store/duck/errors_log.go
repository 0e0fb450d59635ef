package duck

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// The error event log. WriteEvents acknowledges a batch once its events are in a file of
// their own (<database>.errors.log, written and fsync'd: ~0.1 ms of CPU), and writes what
// the log holds to DuckDB later, many batches in one transaction: when it holds
// logFlushEvents events or its oldest is logFlushAge old (checked by the next write), and
// before every read, status change and retention run, so that they see every event
// acknowledged before they began. A DuckDB transaction costs ~5-9 ms of CPU however few
// events it carries, and SDKs send one event per request: written one request at a time,
// 200 events/s took nearly two cores (bench errors-paced).
//
// After a crash (or a Close, which does not flush), the events still in the log are read
// back at the first use of the error tables and written then; an event the crash left
// both in the log and in DuckDB is skipped as a duplicate, as any retry is. A record cut
// short by a crash fails its checksum and ends the replay: its batch was never
// acknowledged.
//
// Record format: little-endian uint32 length, uint32 CRC-32C of the payload, payload (the
// event column, encodeEventBody).
const (
	logFlushEvents = 1000
	logFlushAge    = time.Second
	// logMaxEvents bounds the events the log holds while DuckDB refuses them (a full
	// disk): past it, writes fail.
	logMaxEvents = 20_000
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// eventLog is the log's state, part of errorState (guarded by Store.errorsMu).
type eventLog struct {
	replayed bool          // the file left by the last run was read back
	pending  []storedEvent // in the file, not yet in DuckDB, in the order logged
	ids      map[string]bool
	oldest   time.Time // when the first pending event was logged
}

func (s *Store) errorLogPath() string { return s.path + ".errors.log" }

// logEvents appends batch to the log, leaving out events already pending, and returns once
// the file is synced. On error the file is cut back to where it was.
func (s *Store) logEvents(batch []storedEvent) error {
	l := &s.errState.log
	var buf []byte
	var add []storedEvent
	for _, se := range batch {
		if l.ids[se.ev.EventID] {
			continue
		}
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(se.body)))
		buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(se.body, crcTable))
		buf = append(buf, se.body...)
		add = append(add, se)
	}
	if len(add) == 0 {
		return nil
	}
	if len(l.pending)+len(add) > logMaxEvents {
		return fmt.Errorf("write events: %d events wait for the database, which refuses them", len(l.pending))
	}
	path := s.errorLogPath()
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("write events: open log: %w", err)
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = f.Write(buf)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Truncate(end)
	}
	err = errors.Join(err, f.Close())
	if err == nil && os.IsNotExist(statErr) {
		err = syncDir(filepath.Dir(path)) // the new file's name must survive a crash too
	}
	if err != nil {
		return fmt.Errorf("write events: log: %w", err)
	}
	if l.ids == nil {
		l.ids = map[string]bool{}
	}
	if len(l.pending) == 0 {
		l.oldest = time.Now()
	}
	for _, se := range add {
		l.ids[se.ev.EventID] = true
		se.ev = slimEvent(se.ev)
		l.pending = append(l.pending, se)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// flushLog writes the pending events to DuckDB in one transaction and empties the log.
// Call with errorsMu held.
func (s *Store) flushLog(ctx context.Context) error {
	if err := s.replayLog(); err != nil {
		return err
	}
	l := &s.errState.log
	if len(l.pending) == 0 {
		return nil
	}
	if err := s.guard.check(); err != nil { // the events wait in the log for room on disk
		return err
	}
	if err := s.writeEvents(ctx, l.pending); err != nil {
		return err
	}
	// Once committed the log may go: a crash before the truncation only replays events
	// that are stored, which are skipped.
	if err := os.Truncate(s.errorLogPath(), 0); err != nil {
		return fmt.Errorf("empty the event log: %w", err)
	}
	l.pending, l.ids = nil, nil
	return nil
}

// flushErrors brings DuckDB up to date with the log before a read. A failure is logged
// and the read goes on: it misses the pending events rather than failing.
func (s *Store) flushErrors(ctx context.Context) {
	s.errorsMu.Lock()
	defer s.errorsMu.Unlock()
	if err := s.flushLog(ctx); err != nil {
		s.logger.Warn("error events not yet in the database: reads miss them until a later write succeeds", "err", err)
	}
}

// flushDue tells whether the next write should flush the log.
func (l *eventLog) flushDue() bool {
	return len(l.pending) >= logFlushEvents || (len(l.pending) > 0 && time.Since(l.oldest) >= logFlushAge)
}

// replayLog reads back the events a previous run left in the log, once after Open.
func (s *Store) replayLog() error {
	l := &s.errState.log
	if l.replayed {
		return nil
	}
	f, err := os.Open(s.errorLogPath())
	if os.IsNotExist(err) {
		l.replayed = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("open event log: %w", err)
	}
	defer f.Close()
	var events []errtrack.Event
	r := bufio.NewReader(f)
	for {
		var head [8]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			break // the end, or a header cut short
		}
		body := make([]byte, binary.LittleEndian.Uint32(head[:4]))
		if _, err := io.ReadFull(r, body); err != nil || crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(head[4:]) {
			s.logger.Warn("event log ends in a damaged record (a write cut short): the events before it are kept", "path", f.Name())
			break
		}
		ev, err := decodeEventBody(body)
		if err != nil {
			return fmt.Errorf("event log: %w", err)
		}
		events = append(events, ev)
	}
	batch, err := encodeEvents(events)
	if err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	l.replayed = true
	l.pending, l.ids = nil, map[string]bool{}
	l.oldest = time.Now()
	for _, se := range batch {
		l.ids[se.ev.EventID] = true
		se.ev = slimEvent(se.ev)
		l.pending = append(l.pending, se)
	}
	if len(batch) > 0 {
		s.logger.Info("error events read back from the event log", "events", len(batch))
	}
	return nil
}

// slimEvent returns the parts of ev that writing it to DuckDB reads (appendEvents and
// errtrack.ApplyEvent with Title and Culprit): its scalar fields and its exceptions'
// types, values and frame locations. A pending event keeps ~2 KB instead of ~25 KB of
// maps and strings (errtracktest.PythonEvent); its column, body, keeps it whole.
func slimEvent(ev *errtrack.Event) *errtrack.Event {
	slim := *ev
	slim.Tags, slim.User, slim.Request, slim.Breadcrumbs, slim.Contexts, slim.Extra = nil, nil, nil, nil, nil, nil
	slim.Exceptions = make([]errtrack.Exception, len(ev.Exceptions))
	for i, ex := range ev.Exceptions {
		ex.RawStacktrace = ""
		frames := make([]errtrack.Frame, len(ex.Frames))
		for j, f := range ex.Frames {
			frames[j] = errtrack.Frame{Function: f.Function, Module: f.Module, Filename: f.Filename, AbsPath: f.AbsPath,
				Lineno: f.Lineno, Colno: f.Colno, InApp: f.InApp}
		}
		ex.Frames = frames
		slim.Exceptions[i] = ex
	}
	return &slim
}
