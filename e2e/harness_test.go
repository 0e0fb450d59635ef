// Package e2e drives the real loupe binary over its network protocols with clients nobody
// here wrote: the OpenTelemetry Go SDK exporters, promtool, plain HTTP.
//
// Parallel tests: tests that spend most of their time waiting on clocks (Sentry Crons'
// one-minute slots, rule evaluation intervals, Alertmanager's group waits, scrape
// intervals) call t.Parallel, so that go test runs them together after the others instead
// of adding up their waits. Each starts its own server on random ports and data dirs, so
// they share nothing; tests that set environment variables or measure the machine
// (footprint, disk full) stay sequential.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// loupeBin is the binary built once by TestMain.
var loupeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loupe-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	loupeBin = filepath.Join(dir, "loupe")
	build := exec.Command("go", "build", "-o", loupeBin, "../cmd/loupe")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build loupe:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running `loupe serve` process.
type server struct {
	t         *testing.T
	cmd       *exec.Cmd
	dataDir   string
	HTTP      string // base URL of the query APIs, e.g. http://127.0.0.1:41234
	OTLPGRPC  string // host:port
	OTLPHTTP  string // base URL
	StatsdUDP string // host:port
	StatsdTCP string // host:port; "" when off
	exited    chan error
	logPath   string // the server's stderr, one line per log record
}

// startServer starts loupe on random loopback ports with dataDir and waits until it logs
// that it is ready. Extra args are appended to `loupe serve`.
func startServer(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	return startServerArgs(t, dataDir, append([]string{"--statsd-listen", "127.0.0.1:0"}, extra...)...)
}

// startServerArgs is startServer without --statsd-listen, for a test whose configuration
// sets statsd.udp_addr and statsd.tcp_addr apart.
func startServerArgs(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--log-format", "json",
		"--http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0",
		"--otlp-http-listen", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(loupeBin, args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &server{t: t, cmd: cmd, dataDir: dataDir, exited: make(chan error, 1)}

	ready := make(chan map[string]any, 1)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "loupe.log"))
	require.NoError(t, err)
	s.logPath = logFile.Name()
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			fmt.Fprintf(logFile, "%s\n", line)
			var rec map[string]any
			// The server's own "ready", not a tenant's (tenants.enabled: each tenant's
			// server logs one too), and never blocking: this loop must keep reading, or
			// the server blocks writing its log.
			if json.Unmarshal(line, &rec) == nil && rec["msg"] == "ready" && rec["tenant"] == nil {
				select {
				case ready <- rec:
				default:
				}
			}
		}
		s.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			s.stop()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("loupe log:\n%s", tail(string(b), 60))
		}
	})

	select {
	case rec := <-ready:
		s.HTTP = "http://" + rec["http"].(string)
		s.OTLPGRPC = rec["otlp_grpc"].(string)
		s.OTLPHTTP = "http://" + rec["otlp_http"].(string)
		s.StatsdUDP = rec["statsd_udp"].(string)
		s.StatsdTCP, _ = rec["statsd_tcp"].(string)
	case err := <-s.exited:
		b, _ := os.ReadFile(logFile.Name())
		t.Fatalf("loupe exited before ready: %v\n%s", err, b)
	case <-time.After(60 * time.Second):
		t.Fatal("loupe did not log ready within 60s")
	}
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			b, _ := os.ReadFile(s.logPath)
			s.t.Fatalf("loupe should exit cleanly on SIGTERM: %v; log:\n%s", err, tail(string(b), 60))
		}
	case <-time.After(60 * time.Second):
		// SIGQUIT makes the Go runtime print every goroutine's stack into the log, which
		// is then the only record of where the shutdown hung.
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		b, _ := os.ReadFile(s.logPath)
		s.t.Fatalf("loupe did not stop within 60s of SIGTERM; log and stacks:\n%s", tail(string(b), 400))
	}
}

// getJSON fetches base+path and decodes the JSON body into out, requiring status want.
func getJSON(t *testing.T, url string, want int, out any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, resp.StatusCode, "GET %s: %s", url, body)
	if out != nil {
		require.NoError(t, json.Unmarshal(body, out), "GET %s: %s", url, body)
	}
}

// eventually polls f until it returns nil or the deadline passes, then fails with f's error.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }
