package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// webhookMessage is Alertmanager's webhook JSON (version 4), the parts the tests read.
type webhookMessage struct {
	Version     string            `json:"version"`
	Receiver    string            `json:"receiver"`
	Status      string            `json:"status"`
	GroupLabels map[string]string `json:"groupLabels"`
	ExternalURL string            `json:"externalURL"`
	Alerts      []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

// alertNames lists the alertname of each alert of m with its status.
func (m webhookMessage) alertNames() []string {
	var out []string
	for _, a := range m.Alerts {
		out = append(out, a.Labels["alertname"]+":"+a.Status)
	}
	return out
}

// webhookReceiver is an HTTP server in the test recording what Alertmanager posts.
type webhookReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []webhookMessage
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	w := &webhookReceiver{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m webhookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// since returns the messages received after the first n.
func (w *webhookReceiver) since(n int) []webhookMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n > len(w.msgs) {
		return nil
	}
	return append([]webhookMessage(nil), w.msgs[n:]...)
}

func (w *webhookReceiver) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs)
}

// waitMessage waits for a message after the first n that ok accepts and returns it.
func (w *webhookReceiver) waitMessage(t *testing.T, n int, what string, ok func(webhookMessage) bool) webhookMessage {
	t.Helper()
	var found webhookMessage
	eventually(t, 60*time.Second, func() error {
		for _, m := range w.since(n) {
			if ok(m) {
				found = m
				return nil
			}
		}
		return fmt.Errorf("no %s notification; received %+v", what, w.since(0))
	})
	return found
}

// Two alerts on one condition, grouped by job so that both travel in one notification:
// a silence of one then shows as its absence from the group's next notification.
const alertingRules = `groups:
  - name: queue
    rules:
      - alert: QueueLong
        expr: queue_size > 10
        for: 1s
        labels: {severity: page}
        annotations:
          summary: "queue of {{ $labels.job }} is {{ $value }} long"
      - alert: QueueLongTicket
        expr: queue_size > 10
        for: 1s
        labels: {severity: ticket}
`

func alertmanagerConfig(webhookURL string) string {
	return fmt.Sprintf(`route:
  receiver: hook
  group_by: [job]
  group_wait: 200ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
`, webhookURL)
}

func setQueueSize(t *testing.T, s *server, v int) {
	t.Helper()
	conn, err := net.Dial("udp", s.StatsdUDP)
	require.NoError(t, err)
	_, err = fmt.Fprintf(conn, "queue.size:%d|g\n", v)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
}

func amtool(t *testing.T, s *server, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("amtool")
	if err != nil {
		t.Skip("amtool not installed (Debian package prometheus-alertmanager, scripts/test-deps.sh)")
	}
	cmd := exec.Command(bin, append([]string{"--alertmanager.url=" + s.HTTP + "/alertmanager"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr // where amtool warns that the server reports no Alertmanager version
	out, err := cmd.Output()
	require.NoError(t, err, "amtool %v: %s%s", args, out, stderr.String())
	return string(out)
}

// TestAlertmanagerWebhookAndSilence runs the real binary with a rule file and an
// Alertmanager configuration whose receiver is a webhook in the test. The alerts go
// pending -> firing and reach it as Alertmanager's webhook JSON; when the metric falls they
// resolve and the resolved notification arrives. amtool then creates a silence through
// /alertmanager: the next notification of the group lacks the silenced alert, which the
// API shows suppressed. The silence survives a restart; a bad Alertmanager configuration
// is refused by POST /-/reload and the running one keeps routing.
func TestAlertmanagerWebhookAndSilence(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	hook := newWebhookReceiver(t)
	dir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "queue.rules.yml"), alertingRules))
	amPath := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, writeFile(amPath, alertmanagerConfig(hook.srv.URL)))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, `statsd:
  flush_interval: 1s
rules:
  files: ['*.rules.yml']
  evaluation_interval: 1s
alerting:
  alertmanager_config: alertmanager.yml
  external_url: http://loupe.example.com/
`))
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--config", cfgPath)

	// Firing: both alerts in one notification of the group job="statsd".
	setQueueSize(t, s, 12)
	m := hook.waitMessage(t, 0, "firing", func(m webhookMessage) bool { return m.Status == "firing" && len(m.Alerts) == 2 })
	require.Equal(t, "4", m.Version)
	require.Equal(t, "hook", m.Receiver)
	require.Equal(t, map[string]string{"job": "statsd"}, m.GroupLabels)
	require.Equal(t, "http://loupe.example.com/", m.ExternalURL)
	require.ElementsMatch(t, []string{"QueueLong:firing", "QueueLongTicket:firing"}, m.alertNames())
	for _, a := range m.Alerts {
		if a.Labels["alertname"] == "QueueLong" {
			require.Equal(t, map[string]string{"alertname": "QueueLong", "job": "statsd", "severity": "page"}, a.Labels)
			require.Equal(t, "queue of statsd is 12 long", a.Annotations["summary"])
			require.Equal(t, "http://loupe.example.com/graph?g0.expr=queue_size+%3E+10&g0.tab=1", a.GeneratorURL)
			require.NotEmpty(t, a.Fingerprint)
		}
	}
	getJSON(t, s.HTTP+"/api/v1/alertmanagers", 200, nil) // no external ones: an empty list
	out := amtool(t, s, "alert", "query")
	require.Contains(t, out, "QueueLong")

	// Resolved when the metric falls.
	n := hook.count()
	setQueueSize(t, s, 5)
	m = hook.waitMessage(t, n, "resolved", func(m webhookMessage) bool { return m.Status == "resolved" })
	require.ElementsMatch(t, []string{"QueueLong:resolved", "QueueLongTicket:resolved"}, m.alertNames())
	for _, a := range m.Alerts {
		require.False(t, a.EndsAt.IsZero(), "a resolved alert has its end")
	}

	// A silence made with amtool mutes QueueLong: the group's next notification has only
	// QueueLongTicket, and the API says QueueLong is suppressed by that silence.
	id := strings.TrimSpace(amtool(t, s, "silence", "add", "alertname=QueueLong", "--comment=e2e maintenance", "--duration=1h", "--author=e2e"))
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f-]{36}$`), id)
	require.Contains(t, amtool(t, s, "silence", "query"), "e2e maintenance")
	n = hook.count()
	setQueueSize(t, s, 13)
	m = hook.waitMessage(t, n, "firing again", func(m webhookMessage) bool { return m.Status == "firing" })
	require.Equal(t, []string{"QueueLongTicket:firing"}, m.alertNames(), "the silenced alert is not notified")
	eventually(t, 30*time.Second, func() error {
		var alerts []struct {
			Labels map[string]string `json:"labels"`
			Status struct {
				State      string   `json:"state"`
				SilencedBy []string `json:"silencedBy"`
			} `json:"status"`
		}
		getJSON(t, s.HTTP+"/alertmanager/api/v2/alerts?filter=alertname%3D%22QueueLong%22", 200, &alerts)
		if len(alerts) != 1 || alerts[0].Status.State != "suppressed" || len(alerts[0].Status.SilencedBy) != 1 || alerts[0].Status.SilencedBy[0] != id {
			return fmt.Errorf("alerts %+v", alerts)
		}
		return nil
	})

	// A bad Alertmanager configuration is refused by POST /-/reload, naming the file; the
	// running configuration keeps routing (the resolution below still arrives).
	require.NoError(t, writeFile(amPath, "route:\n  receiver: nobody\nreceivers: []\n"))
	resp, err := http.Post(s.HTTP+"/-/reload", "", nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode, string(body))
	require.Contains(t, string(body), "alertmanager configuration "+amPath)
	require.Contains(t, string(body), `undefined receiver "nobody"`)
	n = hook.count()
	setQueueSize(t, s, 1)
	hook.waitMessage(t, n, "resolved after a refused reload", func(m webhookMessage) bool { return m.Status == "resolved" })

	// The silence is in data_dir/alertmanager and is there again after a restart.
	require.NoError(t, writeFile(amPath, alertmanagerConfig(hook.srv.URL)))
	s.stop()
	require.FileExists(t, filepath.Join(dataDir, "alertmanager", "silences"))
	require.FileExists(t, filepath.Join(dataDir, "alertmanager", "nflog"))
	s = startServer(t, dataDir, "--config", cfgPath)
	require.Contains(t, amtool(t, s, "silence", "query"), id)
}

// smtpSink is an SMTP server in the test keeping the messages it is given.
type smtpSink struct {
	mu   sync.Mutex
	msgs []string
}

func (k *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{sink: k}, nil }

func (k *smtpSink) messages() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.msgs...)
}

type smtpSession struct{ sink *smtpSink }

func (s *smtpSession) Reset()                               {}
func (s *smtpSession) Logout() error                        { return nil }
func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, string(b))
	s.sink.mu.Unlock()
	return nil
}

// TestAlertmanagerEmail: an email receiver delivers the firing alert to an SMTP server run
// inside the test, with Alertmanager's default email template.
func TestAlertmanagerEmail(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	dir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "queue.rules.yml"), alertingRules))
	require.NoError(t, writeFile(filepath.Join(dir, "alertmanager.yml"), fmt.Sprintf(`route:
  receiver: mail
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 500ms
receivers:
  - name: mail
    email_configs:
      - to: oncall@example.com
        from: loupe@example.com
        smarthost: %s
        require_tls: false
`, ln.Addr())))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, "statsd:\n  flush_interval: 1s\nrules:\n  files: ['*.rules.yml']\n  evaluation_interval: 1s\nalerting:\n  alertmanager_config: alertmanager.yml\n"))
	s := startServer(t, t.TempDir(), "--config", cfgPath)
	setQueueSize(t, s, 12)
	eventually(t, 60*time.Second, func() error {
		for _, msg := range sink.messages() {
			if strings.Contains(msg, "Subject: [FIRING:1] QueueLong ") {
				require.Contains(t, msg, "To: oncall@example.com")
				require.Contains(t, msg, "From: loupe@example.com")
				return nil
			}
		}
		return fmt.Errorf("no email about QueueLong among %d", len(sink.messages()))
	})
}

// TestExternalAlertmanagers: with alerting.alertmanagers, the alerts are also posted to
// an external Alertmanager's API v2 (an HTTP server in the test, under a path prefix) by
// Prometheus' notifier, and /api/v1/alertmanagers lists it.
func TestExternalAlertmanagers(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	var mu sync.Mutex
	var posted []string
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	t.Cleanup(am.Close)
	dir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "queue.rules.yml"), alertingRules))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, "statsd:\n  flush_interval: 1s\nrules:\n  files: ['*.rules.yml']\n  evaluation_interval: 1s\nalerting:\n  alertmanagers: ['"+am.URL+"/am/']\n"))
	s := startServer(t, t.TempDir(), "--config", cfgPath)

	var ams struct {
		Data struct {
			ActiveAlertmanagers []struct {
				URL string `json:"url"`
			} `json:"activeAlertmanagers"`
		} `json:"data"`
	}
	eventually(t, 30*time.Second, func() error {
		getJSON(t, s.HTTP+"/api/v1/alertmanagers", 200, &ams)
		if len(ams.Data.ActiveAlertmanagers) != 1 {
			return fmt.Errorf("alertmanagers %+v", ams.Data)
		}
		return nil
	})
	require.Equal(t, am.URL+"/am/api/v2/alerts", ams.Data.ActiveAlertmanagers[0].URL)

	setQueueSize(t, s, 12)
	eventually(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range posted {
			if strings.HasPrefix(p, "POST /am/api/v2/alerts [") && strings.Contains(p, `"alertname":"QueueLong"`) {
				return nil
			}
		}
		return fmt.Errorf("posted %v", posted)
	})
}

// TestAlertmanagerInhibition: an inhibit rule in the Alertmanager configuration keeps the
// warning of a job out of the notifications while its critical alert fires; when the
// critical one resolves, the warning is notified.
func TestAlertmanagerInhibition(t *testing.T) {
	t.Parallel() // mostly waits on clocks; see "Parallel tests" in harness_test.go
	hook := newWebhookReceiver(t)
	dir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "queue.rules.yml"), `groups:
  - name: queue
    rules:
      - alert: QueueFull
        expr: queue_size > 10
        labels: {severity: critical}
      - alert: QueueFilling
        expr: queue_size > 5
        for: 2s
        labels: {severity: warning}
`))
	require.NoError(t, writeFile(filepath.Join(dir, "alertmanager.yml"), alertmanagerConfig(hook.srv.URL)+`inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [job]
`))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, "statsd:\n  flush_interval: 1s\nrules:\n  files: ['*.rules.yml']\n  evaluation_interval: 1s\nalerting:\n  alertmanager_config: alertmanager.yml\n"))
	s := startServer(t, t.TempDir(), "--config", cfgPath)

	setQueueSize(t, s, 12)
	m := hook.waitMessage(t, 0, "firing", func(m webhookMessage) bool { return m.Status == "firing" })
	require.Equal(t, []string{"QueueFull:firing"}, m.alertNames())
	eventually(t, 30*time.Second, func() error {
		var alerts []struct {
			Status struct {
				State       string   `json:"state"`
				InhibitedBy []string `json:"inhibitedBy"`
			} `json:"status"`
		}
		getJSON(t, s.HTTP+"/alertmanager/api/v2/alerts?filter=alertname%3D%22QueueFilling%22", 200, &alerts)
		if len(alerts) != 1 || alerts[0].Status.State != "suppressed" || len(alerts[0].Status.InhibitedBy) != 1 {
			return fmt.Errorf("alerts %+v", alerts)
		}
		return nil
	})
	for _, m := range hook.since(0) {
		require.NotContains(t, m.alertNames(), "QueueFilling:firing", "the inhibited alert was notified")
	}

	n := hook.count()
	setQueueSize(t, s, 7)
	m = hook.waitMessage(t, n, "QueueFilling", func(m webhookMessage) bool {
		return slices.Contains(m.alertNames(), "QueueFilling:firing")
	})
	require.ElementsMatch(t, []string{"QueueFull:resolved", "QueueFilling:firing"}, m.alertNames())
}

// TestAlertmanagerBadConfigAtStart: an Alertmanager configuration that does not parse
// stops `loupe serve` before it is ready, naming the file and the problem.
func TestAlertmanagerBadConfigAtStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, writeFile(bad, "route:\n  receiver: team\n  group_wait: soon\nreceivers:\n  - name: team\n"))
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, "alerting:\n  alertmanager_config: alertmanager.yml\n"))
	cmd := exec.Command(loupeBin, "serve", "--config", cfgPath, "--data-dir", t.TempDir(),
		"--http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0",
		"--statsd-listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "loupe must not start with a bad Alertmanager configuration:\n%s", out)
	require.Contains(t, string(out), "alertmanager configuration "+bad)
	require.Contains(t, string(out), `not a valid duration string: "soon"`)
}
