package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
)

// Bad input on the ingest endpoints of a real server (issue 18 items 2, 3, 6, 7): each is
// refused or cut off, with bounded memory, and the server keeps answering.

// readyField reads a field of the server's "ready" log record (e.g. statsd_tcp).
func readyField(t *testing.T, s *server, field string) string {
	t.Helper()
	f, err := os.Open(s.logPath)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "ready" {
			v, _ := rec[field].(string)
			return v
		}
	}
	t.Fatalf("no ready record with %s", field)
	return ""
}

// rssBytes is the resident set size of the server process (Linux /proc).
func rssBytes(t *testing.T, s *server) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/<pid>/status")
	return 0
}

func hostOf(url string) string { return strings.TrimPrefix(url, "http://") }

// A 10-byte snappy body whose header declares ~4 GB gets 413 naming the limit, and the
// server does not allocate it (two such requests took RSS to 4.2 GB before).
func TestHardeningRemoteWriteDeclaredSize(t *testing.T) {
	s := startServer(t, t.TempDir())
	for _, declared := range []uint64{4<<30 - 1, 4 << 30} {
		body := binary.AppendUvarint(nil, declared)
		body = append(body, make([]byte, 10-len(body))...)
		req, err := http.NewRequest(http.MethodPost, s.HTTP+"/api/v1/write", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(msg))
		require.Contains(t, string(msg), "limits.max_request_bytes")
	}
	require.Less(t, rssBytes(t, s), int64(500<<20))
}

// Connections that send only the headers of a large OTLP request (to the OTLP port and to
// the HTTP port's /api/v1/otlp path) do not make the server allocate the declared
// length: 400 such connections held 5-6.5 GB before.
func TestHardeningOTLPHeadersOnly(t *testing.T) {
	s := startServer(t, t.TempDir())
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	targets := []struct{ addr, path string }{
		{hostOf(s.OTLPHTTP), "/v1/traces"},
		{hostOf(s.HTTP), "/api/v1/otlp/v1/metrics"},
	}
	for i := range 50 {
		tg := targets[i%len(targets)]
		c, err := net.Dial("tcp", tg.addr)
		require.NoError(t, err)
		conns = append(conns, c)
		// 16 MiB is the largest length max_request_bytes lets through to the read.
		_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n", tg.path, 16<<20)
		require.NoError(t, err)
	}
	// And some declaring 1 GB, which are refused at once.
	for range 10 {
		c, err := net.Dial("tcp", hostOf(s.OTLPHTTP))
		require.NoError(t, err)
		conns = append(conns, c)
		_, err = fmt.Fprintf(c, "POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n", 1<<30)
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	}
	// The server still answers, and its memory stays bounded.
	resp, err := http.Get(s.HTTP + "/-/healthy")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Less(t, rssBytes(t, s), int64(500<<20))
}

// A body that stops arriving is cut off after limits.http_body_timeout on the HTTP port.
func TestHardeningSlowBody(t *testing.T) {
	s := startServer(t, t.TempDir(), "--config", writeConfig(t, "limits:\n  http_body_timeout: 1s\n"))
	c, err := net.Dial("tcp", hostOf(s.HTTP))
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "POST /loki/api/v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"streams\":")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(60*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "no answer: the slow body was never cut off")
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// Idle StatsD TCP connections are closed after statsd.tcp_idle_timeout.
func TestHardeningStatsdIdleTCP(t *testing.T) {
	s := startServer(t, t.TempDir(), "--config", writeConfig(t, "statsd:\n  tcp_idle_timeout: 1s\n"))
	addr := readyField(t, s, "statsd_tcp")
	require.NotEmpty(t, addr)
	var conns []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		conns = append(conns, c)
	}
	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(60*time.Second)))
		_, err := c.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF, "idle connection not closed by the server")
	}
}

// A Loki push of a stream with 100k labels is refused with 400 naming the limit, before
// the labels are sorted (37 CPU-seconds before the 400).
func TestHardeningLokiManyLabels(t *testing.T) {
	s := startServer(t, t.TempDir())
	stream := make(map[string]string, 100_000)
	for i := range 100_000 {
		stream["l"+strconv.Itoa(i)] = "v"
	}
	body, err := json.Marshal(map[string]any{"streams": []any{map[string]any{
		"stream": stream, "values": [][]string{{strconv.FormatInt(time.Now().UnixNano(), 10), "line"}},
	}}})
	require.NoError(t, err)
	resp, err := http.Post(s.HTTP+"/loki/api/v1/push", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(msg))
	require.Contains(t, string(msg), "100000 labels, more than the limit of 128")
}

// Remote write takes its limits from the configuration: limits.max_request_bytes for the
// body and limits.max_attributes_per_item for the labels of a series.
func TestHardeningRemoteWriteLimitsFromConfig(t *testing.T) {
	s := startServer(t, t.TempDir(), "--config", writeConfig(t, "limits:\n  max_request_bytes: 65536\n  max_attributes_per_item: 4\n"))
	post := func(body []byte) (int, string) {
		req, err := http.NewRequest(http.MethodPost, s.HTTP+"/api/v1/write", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Content-Encoding", "snappy")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(msg)
	}
	now := time.Now().UnixMilli()
	wide := prompb.TimeSeries{Samples: []prompb.Sample{{Value: 1, Timestamp: now}}}
	for _, n := range []string{"__name__", "a", "b", "c", "d", "e"} {
		wide.Labels = append(wide.Labels, prompb.Label{Name: n, Value: "rw_wide"})
	}
	narrow := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "rw_narrow"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: now}}}
	raw, err := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{wide, narrow}}).Marshal()
	require.NoError(t, err)
	code, msg := post(snappy.Encode(nil, raw))
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, "has 6 labels, more than the limit of 4")

	code, msg = post(binary.AppendUvarint(nil, 65537))
	require.Equal(t, http.StatusRequestEntityTooLarge, code, msg)
	require.Contains(t, msg, "more than 65536 (limit limits.max_request_bytes)")
}
