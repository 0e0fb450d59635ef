package e2e

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	logs "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestDeployHAProxy runs deploy/clickhouse/haproxy.cfg, the load balancer of the
// ClickHouse deployment, in front of two real Loupe nodes (on the embedded backend: there
// is no ClickHouse server here, and the balancing does not depend on the store), with only
// its addresses rewritten from the compose network's names to these random loopback
// ports. It checks what the file promises: OTLP/gRPC balanced per request over one client
// connection (h2 on both sides), OTLP/HTTP balanced, the rules API sent to the leader
// only, and a stopped node's requests retried on the other before its check notices.
func TestDeployHAProxy(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	require.NoError(t, err, "haproxy is installed by `make test` (Debian package haproxy)")
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	require.NoError(t, writeFile(rules, "groups:\n  - name: leader-only\n    rules:\n      - record: leader:up\n        expr: vector(1)\n"))
	leaderCfg := filepath.Join(dir, "leader.yaml")
	require.NoError(t, writeFile(leaderCfg, "rules:\n  files: ["+rules+"]\n"))
	nodes := []*server{
		startServer(t, filepath.Join(dir, "data-1"), "--config", leaderCfg),
		startServer(t, filepath.Join(dir, "data-2")),
	}

	cfg, err := os.ReadFile("../deploy/clickhouse/haproxy.cfg")
	require.NoError(t, err)
	lb := map[string]string{}
	text := string(cfg)
	// Docker's resolver and the per-server check port are the compose network's.
	text = regexp.MustCompile(`(?m)^resolvers docker\n(    .*\n)*`).ReplaceAllString(text, "")
	text = strings.Replace(text, " resolvers docker init-addr last,libc,none", "", 1)
	text = strings.Replace(text, "check port 7070 ", "check ", 1)
	for i, n := range nodes {
		httpAddr := strings.TrimPrefix(n.HTTP, "http://")
		_, checkPort, _ := strings.Cut(httpAddr, ":")
		for port, addr := range map[string]string{"7070": httpAddr, "4317": n.OTLPGRPC, "4318": strings.TrimPrefix(n.OTLPHTTP, "http://")} {
			text = strings.ReplaceAll(text, fmt.Sprintf("loupe-%d:%s", i+1, port), addr+" port "+checkPort)
		}
	}
	for _, port := range []string{"7070", "4317", "4318"} {
		lb[port] = "127.0.0.1:" + strconv.Itoa(freePort(t))
		require.Equal(t, 1, strings.Count(text, "bind :"+port), "haproxy.cfg binds :%s once", port)
		text = strings.Replace(text, "bind :"+port, "bind "+lb[port], 1)
	}
	// A stats socket, to see each server's health check pass before traffic is sent.
	sock := filepath.Join(dir, "haproxy.sock")
	require.Equal(t, 1, strings.Count(text, "\nglobal\n"))
	text = strings.Replace(text, "\nglobal\n", "\nglobal\n    stats socket "+sock+" level user\n", 1)
	require.NotContains(t, text, "loupe-1:", "every address rewritten")
	require.NotContains(t, text, "loupe-2:", "every address rewritten")
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, writeFile(cfgPath, text))
	out, err := exec.Command(haproxy, "-c", "-f", cfgPath).CombinedOutput()
	require.NoError(t, err, "%s", out)

	cmd := exec.Command(haproxy, "-db", "-f", cfgPath)
	logPath := filepath.Join(dir, "haproxy.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("haproxy log:\n%s", tail(string(b), 60))
		}
	})
	eventually(t, 20*time.Second, func() error {
		resp, err := http.Get("http://" + lb["7070"] + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})

	// Every server with a check has passed one (the OTLP servers track the HTTP ones'),
	// and all are up: a check that cannot pass (an HTTP/1.1 check sent over h2 failed so)
	// would mark its servers down within three checks.
	eventually(t, 30*time.Second, func() error {
		rows, err := haproxyStats(sock)
		if err != nil {
			return err
		}
		if len(rows) != 7 {
			return fmt.Errorf("%d servers in haproxy's stats, want 7: %v", len(rows), rows)
		}
		for _, r := range rows {
			if r["status"] != "UP" || r["check_status"] != "L7OK" && !strings.HasPrefix(r["pxname"], "loupe_otlp_") {
				return fmt.Errorf("%s/%s: status %q, check %q", r["pxname"], r["svname"], r["status"], r["check_status"])
			}
		}
		return nil
	})

	logsIn := func(s *server) int {
		resp, err := http.Get(s.HTTP + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), `loupe_ingest_items_total{signal="logs"} `); ok {
				n, err := strconv.Atoi(v)
				require.NoError(t, err)
				return n
			}
		}
		return 0
	}

	// OTLP/gRPC: one connection, one record per export; each export is balanced.
	conn, err := grpc.NewClient(lb["4317"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	client := collogs.NewLogsServiceClient(conn)
	export := func(n int) {
		for i := range n {
			ctx, cancel := context.WithTimeout(testContext(t), 10*time.Second)
			_, err := client.Export(ctx, &collogs.ExportLogsServiceRequest{ResourceLogs: []*logs.ResourceLogs{{
				ScopeLogs: []*logs.ScopeLogs{{LogRecords: []*logs.LogRecord{{
					TimeUnixNano: uint64(time.Now().UnixNano()),
					Body:         &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: fmt.Sprint("record ", i)}},
				}}}},
			}}})
			cancel()
			require.NoError(t, err, "export %d through the load balancer", i)
		}
	}
	export(20)
	eventually(t, 10*time.Second, func() error {
		if a, b := logsIn(nodes[0]), logsIn(nodes[1]); a+b != 20 || a == 0 || b == 0 {
			return fmt.Errorf("records per node %d, %d: want 20 in all, on both nodes", a, b)
		}
		return nil
	})

	// OTLP/HTTP: balanced too.
	body := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`
	for range 10 {
		resp, err := http.Post("http://"+lb["4318"]+"/v1/logs", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	eventually(t, 10*time.Second, func() error {
		if a, b := logsIn(nodes[0]), logsIn(nodes[1]); a+b != 30 || a <= 10 || b <= 10 {
			return fmt.Errorf("records per node %d, %d: want 30 in all, some of the last 10 on each", a, b)
		}
		return nil
	})

	// The rules API goes to the leader (loupe-1, the only node with rules), every time.
	for range 4 {
		var rulesResp struct {
			Data struct {
				Groups []struct{ Name string } `json:"groups"`
			} `json:"data"`
		}
		getJSON(t, "http://"+lb["7070"]+"/api/v1/rules", http.StatusOK, &rulesResp)
		require.Len(t, rulesResp.Data.Groups, 1)
		require.Equal(t, "leader-only", rulesResp.Data.Groups[0].Name)
	}

	// A node stops: before its check marks it down (3 checks 5 s apart), its share of
	// requests is refused a connection and retried on the other node.
	before := logsIn(nodes[0])
	nodes[1].stop()
	export(10)
	eventually(t, 10*time.Second, func() error {
		if got := logsIn(nodes[0]) - before; got != 10 {
			return fmt.Errorf("loupe-1 stored %d of the 10 records sent with loupe-2 stopped", got)
		}
		return nil
	})
}

// haproxyStats returns the servers' rows of `show stat` on haproxy's stats socket, each
// by column name.
func haproxyStats(sock string) ([]map[string]string, error) {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	recs, err := csv.NewReader(conn).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errors.New("no stats")
	}
	header := recs[0]
	header[0] = strings.TrimPrefix(header[0], "# ")
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, v := range rec {
			if i < len(header) {
				row[header[i]] = v
			}
		}
		if row["svname"] != "FRONTEND" && row["svname"] != "BACKEND" {
			rows = append(rows, row)
		}
	}
	return rows, nil
}
