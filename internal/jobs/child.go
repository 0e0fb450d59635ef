package jobs

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// forwardedSignals are passed on to the child. SIGPIPE is caught only so that a closed
// stdout of Loupe does not kill Loupe before it records the run.
var forwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1,
	syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGPIPE,
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// childEnv is the child's environment with the OTel variables that make an instrumented
// child send to the same server, with its spans under the run's span. Variables the user
// set themselves win, except TRACEPARENT which always names the run.
func (r *runner) childEnv() []string {
	rec := r.rec
	env := map[string]string{}
	for k, v := range r.env {
		env[k] = v
	}
	if r.opts.Server != "" {
		if _, ok := env["OTEL_EXPORTER_OTLP_ENDPOINT"]; !ok {
			env["OTEL_EXPORTER_OTLP_ENDPOINT"] = r.opts.Server
			if _, ok := env["OTEL_EXPORTER_OTLP_PROTOCOL"]; !ok {
				env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
			}
		}
		if h := childOTLPHeaders(env); h != "" {
			env["OTEL_EXPORTER_OTLP_HEADERS"] = h
		}
	}
	attrs := "loupe.run.id=" + rec.RunID + ",loupe.run.name=" + percentEncode(rec.Name)
	if old := env["OTEL_RESOURCE_ATTRIBUTES"]; old != "" {
		attrs = old + "," + attrs
	}
	env["OTEL_RESOURCE_ATTRIBUTES"] = attrs
	env["TRACEPARENT"] = "00-" + rec.Telemetry.TraceID + "-" + rec.Telemetry.SpanID + "-01"
	env["LOUPE_RUN_ID"] = rec.RunID
	if r.opts.Profile {
		// Read by the Go SDK (sdk.Options.Profile); its profiles carry loupe_run_id.
		env["LOUPE_PROFILE"] = "1"
		if _, ok := env["LOUPE_PROFILE_SERVER"]; !ok && r.opts.ProfileServer != "" {
			env["LOUPE_PROFILE_SERVER"] = r.opts.ProfileServer
		}
	}
	return envList(env)
}

// percentEncode escapes a value for OTEL_RESOURCE_ATTRIBUTES (W3C baggage octets).
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > 0x20 && c < 0x7f && c != ',' && c != ';' && c != '=' && c != '%' && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func commandLine(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]{}~#!") {
			parts[i] = a
		} else {
			parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(parts, " ")
}

func localZone(env map[string]string) string {
	if tz := env["TZ"]; tz != "" {
		return strings.TrimPrefix(tz, ":")
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		if _, name, ok := strings.Cut(target, "zoneinfo/"); ok {
			return name
		}
	}
	name, _ := time.Now().Zone()
	return name
}

// parseTraceparent reads a W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>").
func parseTraceparent(tp string) (traceID, spanID string, ok bool) {
	parts := strings.Split(strings.TrimSpace(tp), "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || len(parts[1]) != 32 || len(parts[2]) != 16 {
		return "", "", false
	}
	if _, err := hex.DecodeString(parts[1] + parts[2]); err != nil {
		return "", "", false
	}
	if strings.Trim(parts[1], "0") == "" || strings.Trim(parts[2], "0") == "" {
		return "", "", false
	}
	return strings.ToLower(parts[1]), strings.ToLower(parts[2]), true
}

func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
