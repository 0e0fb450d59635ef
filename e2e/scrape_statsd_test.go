package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestScrapeReloadAndStatsd configures a scrape job for a python prometheus_client app in
// the YAML file, adds node_exporter with a SIGHUP reload, and sends StatsD over UDP: all of
// it is queryable with PromQL.
func TestScrapeReloadAndStatsd(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	dicePort, nodePort := freePort(t), freePort(t)
	dice := exec.Command("/usr/bin/python3", "../internal/ingest/promscrape/testdata/dice_app.py", fmt.Sprint(dicePort))
	require.NoError(t, dice.Start())
	t.Cleanup(func() { _ = dice.Process.Kill(); _ = dice.Wait() })
	node := exec.Command("/usr/bin/prometheus-node-exporter", fmt.Sprintf("--web.listen-address=127.0.0.1:%d", nodePort))
	require.NoError(t, node.Start())
	t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait() })

	job := func(name string, port int) string {
		return fmt.Sprintf("    - job_name: %s\n      scrape_interval: 1s\n      static_configs: [{targets: ['127.0.0.1:%d']}]\n", name, port)
	}
	base := "statsd:\n  flush_interval: 1s\nscrape:\n  scrape_configs:\n" + job("dice", dicePort)
	cfgPath := writeConfig(t, base)
	s := startServer(t, t.TempDir(), "--config", cfgPath)

	eventually(t, 30*time.Second, func() error {
		if len(instant(t, s, `dice_rolls_total{job="dice"}`)) == 0 {
			return fmt.Errorf("no dice_rolls_total yet")
		}
		if got := instant(t, s, `up{job="dice"}`); len(got) != 1 || firstValue(got) != 1 {
			return fmt.Errorf("up{job=dice} = %v", got)
		}
		return nil
	})

	require.NoError(t, os.WriteFile(cfgPath, []byte(base+job("node", nodePort)), 0o644))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	eventually(t, 30*time.Second, func() error {
		if got := instant(t, s, `up{job="node"}`); len(got) != 1 || firstValue(got) != 1 {
			return fmt.Errorf("up{job=node} = %v", got)
		}
		return nil
	})
	require.NotEmpty(t, instant(t, s, `node_cpu_seconds_total{job="node"}`))

	conn, err := net.Dial("udp", s.StatsdUDP)
	require.NoError(t, err)
	_, err = conn.Write([]byte("checkout.requests:3|c|#env:e2e\nqueue.size:12|g\nnot a metric\n"))
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	eventually(t, 30*time.Second, func() error {
		got := instant(t, s, `checkout_requests_total{env="e2e"}`)
		if len(got) != 1 || firstValue(got) != 3 {
			return fmt.Errorf("checkout_requests_total = %v", got)
		}
		return nil
	})
	require.Equal(t, 12.0, firstValue(instant(t, s, `queue_size{job="statsd"}`)))
}

func firstValue(m map[string]float64) float64 {
	for _, v := range m {
		return v
	}
	return 0
}
