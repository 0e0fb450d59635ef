package jobs

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// errPermanent marks a payload the server refused as invalid: retrying cannot help.
var errPermanent = errors.New("rejected by the server")

// postOTLP sends one OTLP/HTTP protobuf request for signal (traces, logs or metrics) to
// server, e.g. http://localhost:4318. A 4xx answer other than 429 wraps errPermanent.
func postOTLP(ctx context.Context, client *http.Client, server, signal string, payload []byte) error {
	url := strings.TrimRight(server, "/") + "/v1/" + signal
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("post %s: %w", signal, err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", signal, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode/100 == 2:
		return partialSuccess(signal, msg)
	case resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests:
		return fmt.Errorf("post %s to %s: %s: %s: %w", signal, url, resp.Status, clip(msg), errPermanent)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		return &busyError{
			err:        fmt.Errorf("post %s to %s: %s: %s", signal, url, resp.Status, clip(msg)),
			retryAfter: retryAfter(resp.Header.Get("Retry-After")),
		}
	default:
		return fmt.Errorf("post %s to %s: %s: %s", signal, url, resp.Status, clip(msg))
	}
}

// busyError is an answer that says the server is busy (429, 502, 503, 504), as the OTLP
// specification lists them for retrying; retryAfter is its Retry-After, zero when absent.
type busyError struct {
	err        error
	retryAfter time.Duration
}

func (e *busyError) Error() string { return e.err.Error() }
func (e *busyError) Unwrap() error { return e.err }

// retryAfter parses a Retry-After header given in seconds (what Loupe and most servers
// send); a date or nonsense is zero.
func retryAfter(h string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// Retry of a busy or slow server by the shipper: one more attempt, after the server's
// Retry-After capped at maxRetryWait, else after retryWait.
const (
	retryWait    = time.Second
	maxRetryWait = 5 * time.Second
)

// retryable reports whether err says the server is there but busy or slow (a busy answer or
// a request that timed out), so that a second attempt may succeed; the wait before it.
// A refused connection is not: the server is down.
func retryable(err error) (time.Duration, bool) {
	if be := (*busyError)(nil); errors.As(err, &be) {
		return min(max(be.retryAfter, retryWait), maxRetryWait), true
	}
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return retryWait, true
	}
	return 0, false
}

// PartialError is a 2xx answer in which the server stored the request but rejected some
// of its items (an OTLP partial success), e.g. metric samples older than its out-of-order
// window. Retrying cannot help; the rest of the request is stored.
type PartialError struct {
	Signal   string
	Rejected int64
	Msg      string
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("server stored the %s but rejected %d item(s): %s", e.Signal, e.Rejected, e.Msg)
}

// partialSuccess decodes an OTLP/HTTP protobuf export response and returns a *PartialError
// when it reports rejected items. An empty or undecodable body is a plain success: the
// server answered 2xx, and older servers may send nothing.
func partialSuccess(signal string, body []byte) error {
	var rejected int64
	var msg string
	switch signal {
	case "traces":
		r := ptraceotlp.NewExportResponse()
		if r.UnmarshalProto(body) != nil {
			return nil
		}
		rejected, msg = r.PartialSuccess().RejectedSpans(), r.PartialSuccess().ErrorMessage()
	case "logs":
		r := plogotlp.NewExportResponse()
		if r.UnmarshalProto(body) != nil {
			return nil
		}
		rejected, msg = r.PartialSuccess().RejectedLogRecords(), r.PartialSuccess().ErrorMessage()
	case "metrics":
		r := pmetricotlp.NewExportResponse()
		if r.UnmarshalProto(body) != nil {
			return nil
		}
		rejected, msg = r.PartialSuccess().RejectedDataPoints(), r.PartialSuccess().ErrorMessage()
	}
	if rejected == 0 {
		return nil
	}
	return &PartialError{Signal: signal, Rejected: rejected, Msg: msg}
}

// clip keeps error bodies short enough for one log line.
func clip(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if len(b) > 512 {
		b = append(b[:512:512], "..."...)
	}
	return b
}

// shipper delivers a run's OTLP payloads: to the server while it answers, to the spool
// file from the first failure on (so a down server costs one timeout, not one per batch).
// Goroutine-safe.
type shipper struct {
	client  *http.Client
	server  string // "" when the run is not shipped anywhere
	spool   *spoolWriter
	logger  *slog.Logger
	mu      sync.Mutex
	down    bool
	spooled int
	sent    int
}

// ship sends or spools one payload. It never fails: a payload that can be neither sent nor
// spooled is reported on the logger.
func (s *shipper) ship(ctx context.Context, signal string, payload []byte) {
	if s.server == "" {
		return
	}
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if !down {
		err := postOTLP(ctx, s.client, s.server, signal, payload)
		if wait, ok := retryable(err); ok {
			// A busy or slow server (its backpressure, a pause under load) usually answers
			// the next attempt; spooling would keep the run from it until a `loupe push`.
			s.logger.Debug("server busy, retrying once", "signal", signal, "err", err, "wait", wait)
			select {
			case <-time.After(wait):
				err = postOTLP(ctx, s.client, s.server, signal, payload)
			case <-ctx.Done():
			}
		}
		if perr := (*PartialError)(nil); errors.As(err, &perr) {
			s.logger.Warn("server rejected part of the run data", "signal", signal, "rejected", perr.Rejected, "reason", perr.Msg)
			err = nil
		}
		if err == nil {
			s.mu.Lock()
			s.sent++
			s.mu.Unlock()
			return
		}
		if errors.Is(err, errPermanent) {
			s.logger.Warn("server rejected run data", "signal", signal, "err", err)
			return
		}
		s.mu.Lock()
		if !s.down {
			s.logger.Warn("server unreachable, spooling the run record", "server", s.server, "err", err, "spool", s.spool.path)
		}
		s.down = true
		s.mu.Unlock()
	}
	if err := s.spool.write(spoolEntry{Signal: signal, Server: s.server, RunID: s.spool.runID, Payload: payload}); err != nil {
		s.logger.Error("could not spool run data", "signal", signal, "err", err)
		return
	}
	s.mu.Lock()
	s.spooled++
	s.mu.Unlock()
}

// wasSpooled reports whether any payload went to the spool file.
func (s *shipper) wasSpooled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spooled > 0
}

func decodeHex(dst []byte, s string) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return fmt.Errorf("bad id %q", s)
	}
	copy(dst, b)
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// newHTTPClient is the client used for OTLP requests; the timeout bounds how long a
// hanging server can delay the end of a run. It sends the headers of the process's
// OTEL_EXPORTER_OTLP_HEADERS and LOUPE_TOKEN (headers.go).
func newHTTPClient(timeout time.Duration) *http.Client {
	c := &http.Client{Timeout: timeout}
	if h := OTLPHeaders(os.Getenv); len(h) > 0 {
		c.Transport = headerTransport{base: http.DefaultTransport, headers: h}
	}
	return c
}
