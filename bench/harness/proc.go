// Package harness runs Loupe (and optionally a peer such as Prometheus) on fresh data
// directories, drives the load generator's scenarios against them, measures the server's
// CPU time, memory and disk from /proc and the file system, and reports the figures.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is one process under test: where to send and query, and its pid for /proc.
type Server struct {
	Name     string
	Pid      int
	HTTP     string // base URL of the query APIs and remote write, e.g. http://127.0.0.1:7070
	OTLPGRPC string // host:port, "" when not supported
	OTLPHTTP string // base URL, "" when not supported
	DataDir  string
	// Startup is the time from exec to ready.
	Startup time.Duration

	cmd    *exec.Cmd
	exited chan error
	log    *limitedWriter
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat; it is 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// CPUTime returns the user plus system CPU time the process has used.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat: %w", err)
	}
	// The command name (field 2) may hold spaces; fields after it start past the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// Memory returns the resident set size now and its peak (VmRSS, VmHWM) in bytes.
func Memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read status: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n * 1024
		case "VmHWM":
			peak = n * 1024
		}
	}
	return rss, peak, nil
}

// DirSize returns the bytes of the regular files under dir.
func DirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// StartLoupe starts `loupe serve` on loopback ports with dataDir and waits until it logs
// that it is ready.
func StartLoupe(ctx context.Context, bin, dataDir string, extra ...string) (*Server, error) {
	args := append([]string{"serve", "--data-dir", dataDir, "--log-format", "json",
		"--http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0",
		"--otlp-http-listen", "127.0.0.1:0", "--statsd-listen", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start loupe: %w", err)
	}
	s := &Server{Name: "loupe", Pid: cmd.Process.Pid, DataDir: dataDir, cmd: cmd, exited: make(chan error, 1),
		log: &limitedWriter{max: 1 << 20}}
	ready := make(chan map[string]any, 1)
	lines := make(chan []byte, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := append([]byte(nil), sc.Bytes()...)
			var rec map[string]any
			if json.Unmarshal(line, &rec) == nil && rec["msg"] == "ready" {
				select {
				case ready <- rec:
				default:
				}
			}
			select {
			case lines <- line:
			default: // keep the reader going even when nobody collects the log
			}
		}
		close(lines)
		s.exited <- cmd.Wait()
	}()
	go func() {
		for l := range lines {
			_, _ = s.log.Write(append(l, '\n'))
		}
	}()
	select {
	case rec := <-ready:
		s.Startup = time.Since(began)
		s.HTTP = "http://" + fmt.Sprint(rec["http"])
		s.OTLPGRPC = fmt.Sprint(rec["otlp_grpc"])
		s.OTLPHTTP = "http://" + fmt.Sprint(rec["otlp_http"])
		return s, nil
	case err := <-s.exited:
		log := s.log.String()
		if len(log) > 2000 {
			log = log[len(log)-2000:]
		}
		return nil, fmt.Errorf("loupe exited before ready: %v\n%s", err, log)
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("loupe not ready within 2m")
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return nil, ctx.Err()
	}
}

// StartPrometheus starts Prometheus with the remote-write receiver on a free loopback port
// and a fresh TSDB in dataDir, and waits until /-/ready answers.
func StartPrometheus(ctx context.Context, bin, dataDir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dataDir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte("global:\n  scrape_interval: 15s\n"), 0o644); err != nil {
		return nil, err
	}
	tsdbDir := filepath.Join(dataDir, "tsdb")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+tsdbDir,
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver", "--log.level=warn")
	logBuf := &limitedWriter{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = io.Discard, logBuf
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	s := &Server{Name: "prometheus", Pid: cmd.Process.Pid, DataDir: tsdbDir, HTTP: "http://" + addr,
		cmd: cmd, exited: make(chan error, 1), log: logBuf}
	go func() { s.exited <- cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(s.HTTP + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.Startup = time.Since(began)
				return s, nil
			}
		}
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("prometheus exited before ready: %v: %s", err, logBuf.String())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("prometheus not ready within 1m")
		}
	}
}

// Stop sends SIGTERM and waits for the process to exit (killing it after timeout). A
// server the harness did not start (an external peer) is left alone.
func (s *Server) Stop(timeout time.Duration) error {
	if s == nil || s.cmd == nil || s.cmd.ProcessState != nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			return fmt.Errorf("%s exited: %w\n%s", s.Name, err, s.logTail(2000))
		}
		return nil
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM", s.Name, timeout)
	}
}

// logTail returns the last n bytes of what Log returns, for error messages.
func (s *Server) logTail(n int) string {
	l := s.Log()
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return l
}

// Log returns the first MiB of the server's log.
func (s *Server) Log() string {
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// limitedWriter keeps the first max bytes written to it; safe for concurrent use.
type limitedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < w.max {
		w.buf.Write(p)
	}
	return len(p), nil
}

func (w *limitedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
