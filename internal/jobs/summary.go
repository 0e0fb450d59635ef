package jobs

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Default ports of a Loupe server: OTLP/HTTP, and the one of the UI and the query APIs.
const (
	defaultOTLPHTTPPort = "4318"
	defaultUIPort       = "7070"
)

// UIURL is the base URL of the web UI that shows runs sent to server: ui when set, else the
// same scheme and host as server with port 7070 when server uses the default OTLP/HTTP port
// 4318 (a server's default layout), else "" (the UI's address cannot be known).
func UIURL(server, ui string) string {
	if ui != "" {
		return strings.TrimRight(ui, "/")
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" || u.Port() != defaultOTLPHTTPPort {
		return ""
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), defaultUIPort)
}

// RunLink is the UI page of one run under the UI's base URL, "" without one.
func RunLink(ui, runID string) string {
	if ui == "" {
		return ""
	}
	return ui + "/runs/" + url.PathEscape(runID)
}

// Summary is the line `loupe run` prints on stderr after the job's output: the run id, how
// the job ended, its wall time and the run's page in the UI when its address is known, e.g.
// "loupe: run 0af7… finished (exit 1, 3.2s): http://127.0.0.1:7070/runs/0af7…".
func Summary(rec *Record, ui string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "loupe: run %s ", rec.RunID)
	dur := time.Duration(rec.DurationSeconds * float64(time.Second)).Round(100 * time.Millisecond)
	if dur == 0 {
		dur = time.Duration(rec.DurationSeconds * float64(time.Second)).Round(time.Millisecond)
	}
	switch {
	case rec.Signal != "":
		fmt.Fprintf(&b, "killed by %s (exit %d, %s)", rec.Signal, rec.ExitCode, dur)
	case rec.Error != "":
		fmt.Fprintf(&b, "could not start (exit %d)", rec.ExitCode)
	default:
		fmt.Fprintf(&b, "finished (exit %d, %s)", rec.ExitCode, dur)
	}
	if link := RunLink(ui, rec.RunID); link != "" {
		b.WriteString(": " + link)
	}
	return b.String()
}
