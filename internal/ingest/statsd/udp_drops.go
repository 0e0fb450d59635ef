package statsd

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// The kernel drops datagrams that arrive while the socket's receive buffer is full (a
// burst faster than the reader) and counts them per socket; Linux shows the count in the
// last column of /proc/net/udp and /proc/net/udp6. Loupe reads it when /metrics is
// scraped, so UDP loss is visible (73% of a 400k lines/s burst was lost unseen before).
// Loupe itself has no queue between the socket and the parser: every datagram it reads
// is parsed, so the kernel's count is the whole of the loss.

// socketInode returns the inode of a socket, which /proc/net/udp lists it by, or 0 when
// it cannot be found (not Linux, no /proc).
func socketInode(c net.PacketConn) uint64 {
	uc, ok := c.(*net.UDPConn)
	if !ok {
		return 0
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0
	}
	var inode uint64
	_ = raw.Control(func(fd uintptr) {
		link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			return
		}
		// "socket:[12345]"
		if s, ok := strings.CutPrefix(link, "socket:["); ok {
			inode, _ = strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
		}
	})
	return inode
}

// udpDrops returns the kernel's drop count of the UDP socket with this inode, from
// /proc/net/udp and /proc/net/udp6.
func udpDrops(inode uint64) (uint64, bool) {
	for _, path := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		n, ok := parseUDPDrops(bufio.NewScanner(f), inode)
		_ = f.Close()
		if ok {
			return n, true
		}
	}
	return 0, false
}

// parseUDPDrops finds the line of inode in a /proc/net/udp table: after the header,
// "sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops".
func parseUDPDrops(sc *bufio.Scanner, inode uint64) (uint64, bool) {
	want := strconv.FormatUint(inode, 10)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 13 || f[9] != want {
			continue
		}
		n, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		return n, err == nil
	}
	return 0, false
}

// udpDropsCollector exports loupe_statsd_udp_kernel_drops_total for the receiver's UDP
// socket, read at each scrape; nothing when the count cannot be read.
type udpDropsCollector struct {
	r    *Receiver
	desc *prometheus.Desc
}

func newUDPDropsCollector(r *Receiver) *udpDropsCollector {
	return &udpDropsCollector{r: r, desc: prometheus.NewDesc("loupe_statsd_udp_kernel_drops_total",
		"StatsD datagrams the kernel dropped because the UDP socket's receive buffer was full (Linux: /proc/net/udp drops).", nil, nil)}
}

func (c *udpDropsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *udpDropsCollector) Collect(ch chan<- prometheus.Metric) {
	c.r.mu.Lock()
	inode := c.r.udpInode
	c.r.mu.Unlock()
	if inode == 0 {
		return
	}
	if n, ok := udpDrops(inode); ok {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n))
	}
}
