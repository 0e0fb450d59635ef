package alerting_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/rules"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/alerting"
)

// webhook is a receiver recording Alertmanager's webhook messages.
type webhook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []webhookMsg
}

type webhookMsg struct {
	Status string `json:"status"`
	Alerts []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		GeneratorURL string            `json:"generatorURL"`
	} `json:"alerts"`
	ExternalURL string `json:"externalURL"`
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m webhookMsg
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

func (w *webhook) messages() []webhookMsg {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]webhookMsg(nil), w.msgs...)
}

func amConfig(url string) string {
	return fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 100ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [service]
`, url)
}

func newAM(t *testing.T, dir, conf string) (*alerting.Alertmanager, string) {
	t.Helper()
	file := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(file, []byte(conf), 0o644))
	opts := alerting.DefaultOptions()
	opts.ConfigFile, opts.DataDir = file, filepath.Join(dir, "data")
	am, err := alerting.New(opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, am.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, am.Shutdown(context.Background())) })
	return am, file
}

func alert(name string, ls ...string) *notifier.Alert {
	return &notifier.Alert{
		Labels:      labels.FromStrings(append([]string{"alertname", name}, ls...)...),
		Annotations: labels.FromStrings("summary", name+" fired"),
		StartsAt:    time.Now().Add(-time.Minute),
		EndsAt:      time.Now().Add(time.Hour),
	}
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// api calls the embedded Alertmanager's API v2 through its handler.
func api(t *testing.T, am *alerting.Alertmanager, method, path, body string) (int, string) {
	t.Helper()
	srv := httptest.NewServer(am.Handler())
	defer srv.Close()
	req, err := http.NewRequest(method, srv.URL+alerting.Prefix+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// An alert from the rules is routed to the webhook with Alertmanager's JSON, then its
// resolution is; the API lists it while it fires.
func TestWebhookFiringAndResolved(t *testing.T) {
	hook := newWebhook(t)
	am, _ := newAM(t, t.TempDir(), amConfig(hook.srv.URL))
	a := alert("Hot", "service", "api")
	am.Send(a)
	eventually(t, func() error {
		if m := hook.messages(); len(m) == 0 || m[0].Status != "firing" {
			return fmt.Errorf("messages %+v", m)
		}
		return nil
	})
	m := hook.messages()[0]
	require.Equal(t, "Hot", m.Alerts[0].Labels["alertname"])
	require.Equal(t, "Hot fired", m.Alerts[0].Annotations["summary"])
	require.Equal(t, "http://localhost:7070/", m.ExternalURL)

	code, body := api(t, am, "GET", "/api/v2/alerts", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"alertname":"Hot"`)
	code, body = api(t, am, "GET", "/api/v2/status", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "webhook_configs")

	resolved := *a
	resolved.EndsAt = time.Now()
	am.Send(&resolved)
	eventually(t, func() error {
		for _, m := range hook.messages() {
			if m.Status == "resolved" {
				return nil
			}
		}
		return fmt.Errorf("no resolved message in %+v", hook.messages())
	})
}

// A silence made through the API mutes the alerts it matches, and survives a restart
// (snapshot on Shutdown, loaded by New).
func TestSilenceMutesAndPersists(t *testing.T) {
	hook := newWebhook(t)
	dir := t.TempDir()
	am, _ := newAM(t, dir, amConfig(hook.srv.URL))
	now := time.Now().UTC()
	sil := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"Quiet","isRegex":false,"isEqual":true}],
		"startsAt":%q,"endsAt":%q,"createdBy":"test","comment":"maintenance"}`,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	code, body := api(t, am, "POST", "/api/v2/silences", sil)
	require.Equal(t, http.StatusOK, code, body)

	am.Send(alert("Quiet"), alert("Loud"))
	eventually(t, func() error {
		if len(hook.messages()) == 0 {
			return fmt.Errorf("no message")
		}
		return nil
	})
	// Loud and Quiet are in different groups; give Quiet's group its time, then check.
	time.Sleep(300 * time.Millisecond)
	for _, m := range hook.messages() {
		for _, a := range m.Alerts {
			require.NotEqual(t, "Quiet", a.Labels["alertname"], "silenced alert notified")
		}
	}
	code, body = api(t, am, "GET", "/api/v2/alerts?silenced=true&active=false", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"alertname":"Quiet"`)
	require.Contains(t, body, `"state":"suppressed"`)

	require.NoError(t, am.Shutdown(context.Background()))
	require.FileExists(t, filepath.Join(dir, "data", "silences"))
	require.FileExists(t, filepath.Join(dir, "data", "nflog"))
	am2, _ := newAM(t, dir, amConfig(hook.srv.URL))
	code, body = api(t, am2, "GET", "/api/v2/silences", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "maintenance", "silence kept across restart")
}

// A critical alert inhibits the warning of the same service, as the inhibit rule says.
func TestInhibition(t *testing.T) {
	hook := newWebhook(t)
	am, _ := newAM(t, t.TempDir(), amConfig(hook.srv.URL))
	am.Send(alert("Down", "severity", "critical", "service", "api"))
	eventually(t, func() error {
		if len(hook.messages()) == 0 {
			return fmt.Errorf("no message")
		}
		return nil
	})
	am.Send(alert("Slow", "severity", "warning", "service", "api"), alert("Slow2", "severity", "warning", "service", "db"))
	eventually(t, func() error {
		for _, m := range hook.messages() {
			if m.Alerts[0].Labels["alertname"] == "Slow2" {
				return nil
			}
		}
		return fmt.Errorf("no Slow2 in %+v", hook.messages())
	})
	time.Sleep(300 * time.Millisecond)
	for _, m := range hook.messages() {
		require.NotEqual(t, "Slow", m.Alerts[0].Labels["alertname"], "inhibited alert notified")
	}
}

// A configuration that does not parse is refused at New and at Reload, naming the file,
// and the running configuration keeps routing.
func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(bad, []byte("route:\n  receiver: nobody\nreceivers: []\n"), 0o644))
	opts := alerting.DefaultOptions()
	opts.ConfigFile, opts.DataDir = bad, filepath.Join(dir, "data")
	_, err := alerting.New(opts, nil, prometheus.NewRegistry())
	require.ErrorContains(t, err, "alertmanager configuration "+bad)
	require.ErrorContains(t, err, `undefined receiver "nobody"`)

	hook := newWebhook(t)
	am, good := newAM(t, dir, amConfig(hook.srv.URL))
	err = am.Reload(bad)
	require.ErrorContains(t, err, `undefined receiver "nobody"`)
	require.NoError(t, os.WriteFile(bad, []byte("route: [\n"), 0o644))
	require.ErrorContains(t, am.Reload(bad), "alertmanager configuration "+bad)
	am.Send(alert("StillRouted"))
	eventually(t, func() error {
		if len(hook.messages()) == 0 {
			return fmt.Errorf("no message")
		}
		return nil
	})
	require.NoError(t, am.Reload(good))
}

// NotifyFunc converts the rule manager's alerts as Prometheus does.
func TestNotifyFunc(t *testing.T) {
	var got []*notifier.Alert
	f := alerting.NotifyFunc("https://loupe.example.com/", senderFunc(func(a ...*notifier.Alert) { got = append(got, a...) }))
	fired := time.Now().Add(-time.Minute)
	f(context.Background(), `up == 0`, &rules.Alert{
		Labels: labels.FromStrings("alertname", "Down"), Annotations: labels.FromStrings("summary", "s"),
		FiredAt: fired, ValidUntil: fired.Add(4 * time.Minute),
	}, &rules.Alert{Labels: labels.FromStrings("alertname", "Gone"), FiredAt: fired, ResolvedAt: fired.Add(time.Second)})
	require.Len(t, got, 2)
	require.Equal(t, "https://loupe.example.com/graph?g0.expr=up+%3D%3D+0&g0.tab=1", got[0].GeneratorURL)
	require.Equal(t, fired, got[0].StartsAt)
	require.Equal(t, fired.Add(4*time.Minute), got[0].EndsAt)
	require.Equal(t, fired.Add(time.Second), got[1].EndsAt)
}

type senderFunc func(...*notifier.Alert)

func (f senderFunc) Send(a ...*notifier.Alert) { f(a...) }

// External sends with Prometheus' notifier to the Alertmanager API v2 under a URL's path:
// here another embedded Alertmanager served under /alertmanager, which routes to a webhook.
func TestExternalAlertmanagers(t *testing.T) {
	hook := newWebhook(t)
	am, _ := newAM(t, t.TempDir(), amConfig(hook.srv.URL))
	srv := httptest.NewServer(am.Handler())
	t.Cleanup(srv.Close)

	var mu sync.Mutex
	var posted []string
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	t.Cleanup(plain.Close)

	_, err := alerting.NewExternal([]string{"ftp://x"}, nil, nil)
	require.ErrorContains(t, err, `alerting.alertmanagers[0]: "ftp://x": must be an absolute http or https URL`)

	ext, err := alerting.NewExternal([]string{srv.URL + alerting.Prefix + "/", plain.URL}, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	eventually(t, func() error {
		if n := len(ext.Alertmanagers()); n != 2 {
			return fmt.Errorf("%d alertmanagers", n)
		}
		return nil
	})
	ext.Send(alert("Remote", "service", "api"))
	eventually(t, func() error {
		if m := hook.messages(); len(m) == 0 || m[0].Alerts[0].Labels["alertname"] != "Remote" {
			return fmt.Errorf("messages %+v", m)
		}
		return nil
	})
	eventually(t, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(posted) != 1 {
			return fmt.Errorf("posted %v", posted)
		}
		return nil
	})
	require.True(t, strings.HasPrefix(posted[0], `POST /api/v2/alerts [{"annotations":{"summary":"Remote fired"}`), posted[0])
}

// Shutdown is safe without Start and twice, as every server component's.
func TestShutdownWithoutStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "am.yml")
	require.NoError(t, os.WriteFile(file, []byte("route:\n  receiver: x\nreceivers:\n  - name: x\n"), 0o644))
	opts := alerting.DefaultOptions()
	opts.ConfigFile, opts.DataDir = file, filepath.Join(dir, "data")
	am, err := alerting.New(opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, am.Shutdown(context.Background()))
	require.NoError(t, am.Shutdown(context.Background()))
	require.Error(t, am.Start(context.Background()))

	ext, err := alerting.NewExternal([]string{"http://127.0.0.1:1"}, nil, nil)
	require.NoError(t, err)
	require.NoError(t, ext.Shutdown(context.Background()))
	require.NoError(t, ext.Shutdown(context.Background()))
}

// An SNS receiver is refused with the reason (receivers.go leaves the SNS integration out).
func TestSNSReceiverRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sns.yml")
	require.NoError(t, os.WriteFile(file, []byte(`route: {receiver: aws}
receivers:
  - name: aws
    sns_configs: [{topic_arn: "arn:aws:sns:us-east-1:123456789012:alerts", sigv4: {region: us-east-1}}]
`), 0o644))
	opts := alerting.DefaultOptions()
	opts.ConfigFile, opts.DataDir = file, filepath.Join(dir, "data")
	am, err := alerting.New(opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	err = am.Start(context.Background())
	require.ErrorContains(t, err, `receiver "aws"`)
	require.ErrorContains(t, err, "sns_configs are not supported")
	require.NoError(t, am.Shutdown(context.Background()))
}
