package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// spoolEntry is one line of a spool file: one OTLP/HTTP request that could not be sent.
type spoolEntry struct {
	Signal  string `json:"signal"` // traces, logs or metrics
	Server  string `json:"server"` // where it was meant to go
	RunID   string `json:"run_id"`
	Payload []byte `json:"payload"` // OTLP protobuf (base64 in JSON)
}

// DefaultSpoolDir is $XDG_STATE_HOME/loupe/spool, or ~/.local/state/loupe/spool.
func DefaultSpoolDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "loupe", "spool")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "loupe", "spool")
	}
	return filepath.Join(os.TempDir(), "loupe-spool")
}

// spoolWriter appends entries to <dir>/<run id>.jsonl. The file is created on the first
// write and holds an exclusive flock until close, so `loupe push` leaves a running job's
// file alone. Goroutine-safe.
type spoolWriter struct {
	dir, runID, path string
	mu               sync.Mutex
	f                *os.File
}

func newSpoolWriter(dir, runID string) *spoolWriter {
	return &spoolWriter{dir: dir, runID: runID, path: filepath.Join(dir, runID+".jsonl")}
}

func (w *spoolWriter) write(e spoolEntry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode spool entry: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		if err := os.MkdirAll(w.dir, 0o700); err != nil {
			return fmt.Errorf("create spool dir: %w", err)
		}
		f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open spool file: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return fmt.Errorf("lock spool file: %w", err)
		}
		w.f = f
	}
	if _, err := w.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write spool file: %w", err)
	}
	return nil
}

// close syncs and unlocks the file; safe when nothing was written and safe twice.
func (w *spoolWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Sync()
	err = errors.Join(err, w.f.Close())
	w.f = nil
	return err
}

// PushOptions configure Push.
type PushOptions struct {
	// SpoolDir holds the spool files (DefaultSpoolDir()).
	SpoolDir string
	// Server overrides the server each entry was meant for when set.
	Server string
	// Timeout bounds each request.
	Timeout time.Duration
	// Warn, when not nil, is told of each *PartialError: requests the server stored without
	// some of their items (e.g. samples older than its out-of-order window).
	Warn func(error)
}

// PushResult counts what Push did.
type PushResult struct {
	Files, Requests int
	// Rejected are files the server refused as invalid, renamed to *.rejected.
	Rejected []string
	// Skipped are files still being written by a running `loupe run`.
	Skipped []string
}

// Push sends every spool file in opts.SpoolDir to its server, oldest first. A file is
// removed only once every entry in it was accepted; when a request fails the file is
// rewritten with the entries not yet sent, so nothing acknowledged is sent twice and
// nothing unacknowledged is lost. progress, when not nil, is called after each file.
func Push(ctx context.Context, opts PushOptions, progress func(file string, requests int)) (PushResult, error) {
	var res PushResult
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	paths, err := filepath.Glob(filepath.Join(opts.SpoolDir, "*.jsonl"))
	if err != nil {
		return res, fmt.Errorf("list spool dir: %w", err)
	}
	sort.Slice(paths, func(i, j int) bool { return modTime(paths[i]).Before(modTime(paths[j])) })
	client := newHTTPClient(opts.Timeout)
	for _, p := range paths {
		n, err := pushFile(ctx, client, p, opts.Server, opts.Warn)
		res.Requests += n
		switch {
		case errors.Is(err, errLocked):
			res.Skipped = append(res.Skipped, p)
			continue
		case errors.Is(err, errPermanent):
			res.Rejected = append(res.Rejected, p)
			if rerr := os.Rename(p, p+".rejected"); rerr != nil {
				return res, errors.Join(err, rerr)
			}
			continue
		case err != nil:
			return res, err
		}
		res.Files++
		if progress != nil {
			progress(p, n)
		}
	}
	return res, nil
}

var errLocked = errors.New("spool file in use by a running job")

func modTime(p string) time.Time {
	st, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// pushFile sends the entries of one spool file and returns how many were accepted.
func pushFile(ctx context.Context, client *http.Client, path, server string, warn func(error)) (int, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("open spool file: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return 0, errLocked
	}
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read spool file %s: %w", path, err)
	}
	for i, line := range lines {
		var e spoolEntry
		if err := json.Unmarshal(line, &e); err != nil {
			if i == len(lines)-1 {
				break // a last line cut short when a job was killed mid-write
			}
			return i, fmt.Errorf("spool file %s line %d: %w", path, i+1, err)
		}
		to := e.Server
		if server != "" {
			to = server
		}
		if to == "" {
			to = "http://localhost:4318"
		}
		if err := partialIsWarning(postOTLP(ctx, client, to, e.Signal, e.Payload), warn); err != nil {
			if errors.Is(err, errPermanent) {
				return i, fmt.Errorf("spool file %s: %w", path, err)
			}
			if werr := rewrite(path, lines[i:]); werr != nil {
				err = errors.Join(err, werr)
			}
			return i, fmt.Errorf("push %s: %w", filepath.Base(path), err)
		}
	}
	if err := os.Remove(path); err != nil {
		return len(lines), fmt.Errorf("remove pushed spool file: %w", err)
	}
	return len(lines), nil
}

// rewrite atomically replaces path with the given lines.
func rewrite(path string, lines [][]byte) error {
	tmp := path + ".tmp"
	data := append(bytes.Join(lines, []byte("\n")), '\n')
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("rewrite spool file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rewrite spool file: %w", err)
	}
	return nil
}

// describeSpool is the one-line hint printed when a run was spooled.
func describeSpool(path string) string {
	return strings.Join([]string{"run record spooled to", path, "- send it with `loupe push`"}, " ")
}
