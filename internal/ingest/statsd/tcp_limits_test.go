package statsd

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
)

// closedByServer reports whether the server has closed c: a read returns EOF (or a
// reset) instead of timing out.
func closedByServer(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// An idle TCP connection is closed after tcp_idle_timeout; a connection that keeps
// sending stays open. Before, idle connections were kept forever (20k exhausted the fds).
func TestTCPIdleTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TCPIdleTimeout = model.Duration(300 * time.Millisecond) })
	idle, err := net.Dial("tcp", h.r.TCPAddr().String())
	require.NoError(t, err)
	defer idle.Close()
	busy, err := net.Dial("tcp", h.r.TCPAddr().String())
	require.NoError(t, err)
	defer busy.Close()
	for i := range 10 {
		_, err := fmt.Fprintf(busy, "busy:%d|c\n", i)
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond)
	}
	require.True(t, closedByServer(idle, 10*time.Second), "idle connection still open")
	require.False(t, closedByServer(busy, 50*time.Millisecond), "busy connection was closed")
	require.Equal(t, 1.0, testutil.ToFloat64(h.r.metrics.tcpIdleClosed))
}

// Beyond tcp_max_connections, new connections are closed at once and counted.
func TestTCPMaxConnections(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TCPMaxConnections = 2 })
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", h.r.TCPAddr().String())
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, "held:1|c\n")
		require.NoError(t, err)
		conns = append(conns, c)
	}
	h.waitLines(2) // both are being served
	extra, err := net.Dial("tcp", h.r.TCPAddr().String())
	require.NoError(t, err)
	defer extra.Close()
	require.True(t, closedByServer(extra, 10*time.Second), "connection over the limit still open")
	require.Equal(t, 1.0, testutil.ToFloat64(h.r.metrics.tcpRefused))
	for _, c := range conns {
		require.False(t, closedByServer(c, 50*time.Millisecond))
	}
	// Closing one makes room again.
	require.NoError(t, conns[0].Close())
	require.Eventually(t, func() bool { return testutil.ToFloat64(h.r.metrics.tcpOpen) == 1 }, 10*time.Second, 10*time.Millisecond)
	h.sendTCP("again:1|c\n")
	h.waitLines(3)
}

// Tags are held to the label limits before a series is made of them.
func TestTagLimits(t *testing.T) {
	h := newHarness(t, nil)
	tags := make([]string, 200)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d:v", i)
	}
	h.sendUDP("many:1|c|#" + strings.Join(tags, ","))
	h.sendUDP("long:1|c|#k:" + strings.Repeat("x", 17<<10))
	h.waitLines(2)
	require.Equal(t, 1.0, h.malformed("too_many_labels"))
	require.Equal(t, 1.0, h.malformed("label_value_too_long"))
	require.Empty(t, h.query("many_total"))
}

// The label limits come from the configuration when set (the server passes the limits
// section).
func TestTagLimitsFromConfig(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.LabelLimits = labellimit.Limits{Labels: 4} })
	h.sendUDP("ok:1|c|#a:1,b:2")       // name, job, a, b: 4
	h.sendUDP("wide:1|c|#a:1,b:2,c:3") // 5
	h.waitLines(2)
	require.Equal(t, 1.0, h.malformed("too_many_labels"))
	require.Len(t, h.query("ok_total"), 1)
}
