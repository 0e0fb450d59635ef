package statsd

import (
	"bufio"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseUDPDrops(t *testing.T) {
	table := `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
12411: 0100007F:82A1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 212438 2 00000000fe35bf3c 0
12412: 0100007F:1FBD 00000000:0000 07 00000000:00034000 00:00000000 00000000     0        0 212999 2 00000000fe35bf3d 7321
`
	n, ok := parseUDPDrops(bufio.NewScanner(strings.NewReader(table)), 212999)
	require.True(t, ok)
	require.Equal(t, uint64(7321), n)
	_, ok = parseUDPDrops(bufio.NewScanner(strings.NewReader(table)), 1)
	require.False(t, ok)
}

// Datagrams sent to a socket nobody reads overflow its buffer; the kernel's count of
// them is what the receiver exports.
func TestUDPKernelDrops(t *testing.T) {
	if _, err := os.Stat("/proc/net/udp"); err != nil {
		t.Skip("no /proc/net/udp")
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer pc.Close()
	require.NoError(t, pc.SetReadBuffer(4096))
	inode := socketInode(pc)
	require.NotZero(t, inode)
	n0, ok := udpDrops(inode)
	require.True(t, ok)

	c, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer c.Close()
	p := make([]byte, 1000)
	for range 2000 {
		_, _ = c.Write(p)
	}
	n1, ok := udpDrops(inode)
	require.True(t, ok)
	require.Greater(t, n1, n0)

	// The receiver registers the count for its own socket.
	h := newHarness(t, nil)
	mfs, err := h.reg.Gather()
	require.NoError(t, err)
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "loupe_statsd_udp_kernel_drops_total"
	}
	require.True(t, found, "loupe_statsd_udp_kernel_drops_total not exported")
}
