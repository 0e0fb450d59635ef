package jobs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// PushRecords sends the run records of a JSONL file written by --output to server: for each
// record its span, its samples as metrics and its end-of-run metrics (not its output, which
// a JSONL record does not hold). It stops at the first line that is not a record or the first
// request that fails, and returns how many records were sent before. Items the server
// stored a request without (an OTLP partial success, e.g. samples older than its
// out-of-order window) are reported to warn, when not nil, as a *PartialError.
func PushRecords(ctx context.Context, server, path string, timeout time.Duration, warn func(error)) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open records: %w", err)
	}
	defer f.Close()
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client := newHTTPClient(timeout)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	n := 0
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return n, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		if rec.RunID == "" || len(rec.Telemetry.TraceID) != 32 || len(rec.Telemetry.SpanID) != 16 {
			return n, fmt.Errorf("%s line %d: not a loupe run record (run_id or telemetry ids missing)", path, line)
		}
		if err := pushRecord(ctx, client, server, &rec, warn); err != nil {
			return n, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("read records: %w", err)
	}
	return n, nil
}

// pushRecord sends the span first: it holds the whole record, and a metrics store may refuse
// samples older than its head block.
func pushRecord(ctx context.Context, c *http.Client, server string, rec *Record, warn func(error)) error {
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(runSpan(rec))
	if err != nil {
		return fmt.Errorf("encode span: %w", err)
	}
	if err := partialIsWarning(postOTLP(ctx, c, server, "traces", b), warn); err != nil {
		return err
	}
	md := summaryMetrics(rec)
	if len(rec.Samples) > 0 {
		metricsOf(rec, rec.Samples, rec.StartTime).ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	}
	b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		return fmt.Errorf("encode metrics: %w", err)
	}
	return partialIsWarning(postOTLP(ctx, c, server, "metrics", b), warn)
}

// partialIsWarning hands a *PartialError to warn (the request was stored, so it is not a
// failure to retry) and returns any other error.
func partialIsWarning(err error, warn func(error)) error {
	var perr *PartialError
	if errors.As(err, &perr) {
		if warn != nil {
			warn(err)
		}
		return nil
	}
	return err
}
