package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/profile/pprofconv"
)

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Send profiles taken by hand (pprof files, folded stacks) to the server",
	}
	cmd.AddCommand(newProfilePushCmd())
	return cmd
}

func newProfilePushCmd() *cobra.Command {
	var (
		service, typ, baseURL string
		labels                []string
		timeout               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "push FILE...",
		Short: "Send pprof files or folded stacks to the server's Pyroscope /ingest endpoint",
		Long: `Send profiles taken by hand to the server, as a Pyroscope client would (POST /ingest):
pprof files as ` + "`go tool pprof`" + `, ` + "`go test -cpuprofile`" + ` or /debug/pprof write them (gzipped or
not), or folded stacks ("main;work;burn 12" per line). Each file is checked before it is
sent. When the server requires a token (docs/security.md), it is taken as ` + "`loupe push`" + ` takes
it: OTEL_EXPORTER_OTLP_HEADERS, else LOUPE_TOKEN.

--type names what a pprof file measures when its sample types cannot tell (Go's mutex and
block profiles look alike): cpu, heap, allocs, goroutine, mutex, block, wall. For folded
stacks it is one sample type: cpu (default), alloc_objects, alloc_space, inuse_objects,
inuse_space, goroutines, mutex_count, mutex_duration, block_count, block_duration.`,
		Example: `  loupe profile push cpu.pprof --service api
  loupe profile push --service api --type mutex --label env=lab mutex.pb.gz
  loupe profile push --service batch --url http://loupe.lab:7070 stacks.folded`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			name, err := profileAppName(service, typ, labels)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("url") {
				if u := os.Getenv("LOUPE_URL"); u != "" {
					baseURL = u
				}
			}
			client := &http.Client{Timeout: timeout}
			for _, f := range files {
				format, err := pushProfileFile(cmd, client, baseURL, name, f)
				if err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: pushed (%s) as %s\n", f, format, name)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&service, "service", "", "service name the profiles are stored under (label service_name; required)")
	f.StringVar(&typ, "type", "", "what the profile measures (see above); default: from a pprof file's sample types, cpu for folded stacks")
	f.StringArrayVar(&labels, "label", nil, "series label name=value (repeatable)")
	f.StringVar(&baseURL, "url", "http://localhost:7070", "base URL of the server's HTTP port (env LOUPE_URL)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "timeout of each request")
	_ = cmd.MarkFlagRequired("service")
	return cmd
}

// profileAppName builds Pyroscope's name parameter: service.type{labels}.
func profileAppName(service, typ string, labels []string) (string, error) {
	service = strings.TrimSpace(service)
	if service == "" || strings.ContainsAny(service, "{},=") {
		return "", fmt.Errorf("--service %q: want a non-empty name without {},=", service)
	}
	name := service
	if typ != "" {
		if _, suffix := pprofconv.SplitAppName("x." + typ); suffix == "" {
			return "", fmt.Errorf("--type %q: want cpu, heap, allocs, goroutine, mutex, block, wall or a folded sample type (alloc_space, mutex_count, ...)", typ)
		}
		name += "." + typ
	}
	var pairs []string
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" || pprofconv.SanitizeLabelName(k) != k || strings.ContainsAny(v, "{},") {
			return "", fmt.Errorf("--label %q: want name=value, the name a Prometheus label name, the value without {},", l)
		}
		pairs = append(pairs, k+"="+v)
	}
	if len(pairs) > 0 {
		sort.Strings(pairs)
		name += "{" + strings.Join(pairs, ",") + "}"
	}
	return name, nil
}

// pushProfileFile checks one file and sends it; it returns the format it was sent as.
func pushProfileFile(cmd *cobra.Command, client *http.Client, baseURL, name, file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	format := "pprof"
	if _, perr := pprofconv.Parse(data, pprofconv.DefaultLimits()); perr != nil {
		var le *pprofconv.LimitError
		if errors.As(perr, &le) || pprofconv.IsGzip(data) || !looksLikeText(data) {
			return "", fmt.Errorf("not a usable pprof profile: %w", perr)
		}
		format = "folded"
	}
	q := url.Values{"name": {name}, "format": {format}}
	u := strings.TrimRight(baseURL, "/") + "/ingest?" + q.Encode()
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	req.Header = jobs.OTLPHeaders(os.Getenv)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return format, nil
}

// looksLikeText reports whether data could be folded stacks: no NUL bytes and valid
// line structure in its first KiB.
func looksLikeText(data []byte) bool {
	head := data[:min(len(data), 1024)]
	return !bytes.ContainsRune(head, 0) && bytes.ContainsAny(head, " \n")
}
