//go:build chdb

package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/ingest/sentry"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// While ClickHouse is busy, OTLP log ingest on the clickhouse backend is answered 429
// naming the limit (storage.clickhouse.insert_timeout, or the queue behind it), the
// pipeline's queue stays within limits.queue_items and ClickHouse inserts within
// insert_concurrency; once ClickHouse is free again, every record acknowledged is stored
// and none refused is.
//
// The slow ClickHouse is real: chDB, the ClickHouse engine in-process, runs one long
// query (sleepEachRow) that holds its session, so that Loupe's inserts wait for the
// engine as they would for a saturated server. (chDB runs one statement at a time; a
// server would run the insert beside the query, slowly.)
// Run with CHDB_LIB_PATH=... go test -tags chdb ./internal/server -run TestClickHouseSlowInsertsThrottleIngest -v
func TestClickHouseSlowInsertsThrottleIngest(t *testing.T) {
	// 30 clients of 10 records each do not fit in a queue of 200 records.
	const queueItems, clientCount = 200, 30
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.ListenConfig{HTTP: "127.0.0.1:0", OTLPGRPC: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0"}
	cfg.Statsd.UDPAddr, cfg.Statsd.TCPAddr = "", ""
	cfg.Storage.Backend = config.BackendClickHouse
	cfg.Storage.ClickHouse.DSN, cfg.Storage.ClickHouse.Database = chsqltest.DSN(t) // the process's one chDB session
	cfg.Storage.ClickHouse.InsertConcurrency = 1
	cfg.Storage.ClickHouse.InsertQueue = 2
	cfg.Storage.ClickHouse.InsertTimeout = config.Default().Storage.ClickHouse.InsertTimeout / 20 // 500ms
	cfg.Limits.QueueItems = queueItems
	const sentryKey = "0123456789abcdef0123456789abcdef"
	cfg.Sentry.Projects = []sentry.Project{{ID: "1", Name: "bp", Keys: []string{sentryKey}}}
	require.NoError(t, cfg.Validate())
	s := New(cfg, func() (config.Config, error) { return cfg, nil }, slog.New(slog.DiscardHandler))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })

	// The test's own connection to the same engine and database.
	ch, err := chsql.OpenChDB(strings.TrimPrefix(cfg.Storage.ClickHouse.DSN, chsql.ChDBScheme), cfg.Storage.ClickHouse.Database)
	require.NoError(t, err)
	storedCount := func() int {
		rows, err := ch.Query(context.Background(), "SELECT count() FROM logs WHERE service = 'bp'")
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, rows.Next())
		var n uint64
		require.NoError(t, rows.Scan(&n))
		return int(n)
	}

	var seq atomic.Int64
	const perRequest = 10
	makeLogs := func() plog.Logs {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "bp")
		sl := rl.ScopeLogs().AppendEmpty()
		for range perRequest {
			r := sl.LogRecords().AppendEmpty()
			r.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
			r.Body().SetStr(fmt.Sprintf("record %d", seq.Add(1)))
		}
		return ld
	}
	send := func() (int, string) {
		body, err := (&plog.JSONMarshaler{}).MarshalLogs(makeLogs())
		require.NoError(t, err)
		resp, err := http.Post("http://"+s.receiver.HTTPAddr()+"/v1/logs", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	// A Sentry error event: the errors store inserts from the request, not through the
	// pipeline (and reads what it dedupes against first).
	var eventSeq atomic.Int64
	sendEvent := func() (int, string, string) {
		id := fmt.Sprintf("%032x", eventSeq.Add(1))
		body := `{"event_id":"` + id + `"}` + "\n" + `{"type":"event"}` + "\n" +
			`{"event_id":"` + id + `","level":"error","platform":"go","exception":{"values":[{"type":"E","value":"bp"}]}}` + "\n"
		req, err := http.NewRequest(http.MethodPost, "http://"+s.HTTPAddr()+"/api/1/envelope/", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key="+sentryKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg), id
	}
	storedEvents := func() int {
		rows, err := ch.Query(context.Background(), "SELECT uniqExact(event_id) FROM error_events")
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, rows.Next())
		var n uint64
		require.NoError(t, rows.Scan(&n))
		return int(n)
	}

	// Fast ClickHouse: accepted.
	code, msg := send()
	require.Equal(t, http.StatusOK, code, msg)
	acked := perRequest
	code, msg, _ = sendEvent()
	require.Equal(t, http.StatusOK, code, msg)
	ackedEvents := 1

	// The most the queue and the inserts in flight held, sampled throughout. The disk
	// size gauge asks ClickHouse, which is what this test keeps busy: without it, a Gather
	// answers at once.
	require.True(t, s.reg.Unregister(collectorFunc{desc: prometheus.NewDesc("loupe_store_disk_bytes", "", []string{"signal"}, nil)}))
	var maxQueue, maxInFlight atomic.Int64
	gauge := func(name string) float64 {
		mfs, err := s.reg.Gather()
		require.NoError(t, err)
		sum := 0.0
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.Metric {
				if labelIs(m, "signal", "logs") {
					sum += m.GetGauge().GetValue()
				}
			}
		}
		return sum
	}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			maxQueue.Store(max(maxQueue.Load(), int64(gauge("loupe_pipeline_queue_depth"))))
			maxInFlight.Store(max(maxInFlight.Load(), int64(gauge("loupe_clickhouse_inserts_in_flight"))))
			select {
			case <-stopSampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	// Slow ClickHouse: one query holds the engine for 20 x 0.3 s.
	busy := make(chan error, 1)
	go func() {
		busy <- ch.Exec(context.Background(), "SELECT sleepEachRow(0.3) FROM numbers(20) SETTINGS max_block_size = 1 FORMAT Null")
	}()
	var (
		mu                sync.Mutex
		eventsOK          int
		eventsRefused     []string // 429 answers to Sentry events
		okDuring, refused int
		namedLimit        []string // 429 naming storage.clickhouse.insert_timeout
		queueFull         []string // 429 naming the queue's limit
		otherStatuses     []string
		busyDone          atomic.Bool
		clients           sync.WaitGroup
		busyErr           error
	)
	go func() { busyErr = <-busy; busyDone.Store(true) }()
	for range clientCount {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for !busyDone.Load() {
				code, msg := send()
				mu.Lock()
				switch code {
				case http.StatusOK:
					okDuring++
				case http.StatusTooManyRequests:
					refused++
					switch {
					case strings.Contains(msg, "storage.clickhouse.insert_timeout"):
						namedLimit = append(namedLimit, msg)
					case strings.Contains(msg, "ingest queue full"):
						queueFull = append(queueFull, msg)
					default:
						otherStatuses = append(otherStatuses, fmt.Sprint(code, " ", msg))
					}
				default:
					otherStatuses = append(otherStatuses, fmt.Sprint(code, " ", msg))
				}
				mu.Unlock()
			}
		}()
	}
	// One OTLP/gRPC client: UNAVAILABLE with a RetryInfo.
	gconn, err := grpc.NewClient(s.receiver.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer gconn.Close()
	grpcLogs := plogotlp.NewGRPCClient(gconn)
	var grpcOK int
	var grpcRefused []*status.Status
	clients.Add(1)
	go func() {
		defer clients.Done()
		for !busyDone.Load() {
			_, err := grpcLogs.Export(context.Background(), plogotlp.NewExportRequestFromLogs(makeLogs()))
			mu.Lock()
			if err == nil {
				grpcOK++
			} else if st, _ := status.FromError(err); st.Code() == codes.Unavailable && strings.Contains(st.Message(), "storage.clickhouse.insert_timeout") {
				grpcRefused = append(grpcRefused, st)
			} else if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "limits.queue_items") {
				otherStatuses = append(otherStatuses, fmt.Sprint("grpc ", err))
			}
			mu.Unlock()
		}
	}()
	for range 3 {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for !busyDone.Load() {
				code, msg, _ := sendEvent()
				mu.Lock()
				switch {
				case code == http.StatusOK:
					eventsOK++
				case code == http.StatusTooManyRequests && strings.Contains(msg, "storage.clickhouse.insert_"):
					eventsRefused = append(eventsRefused, msg)
				default:
					otherStatuses = append(otherStatuses, fmt.Sprint("sentry ", code, " ", msg))
				}
				mu.Unlock()
			}
		}()
	}
	clients.Wait()
	require.NoError(t, busyErr)
	close(stopSampling)
	<-sampled
	acked += okDuring * perRequest

	t.Logf("while ClickHouse was busy: %d requests acknowledged, %d answered 429 (%d naming insert_timeout, %d the full queue), others %v",
		okDuring, refused, len(namedLimit), len(queueFull), otherStatuses)
	for _, msgs := range [][]string{namedLimit, queueFull} {
		if len(msgs) > 0 {
			t.Logf("e.g. %s", msgs[0])
		}
	}
	t.Logf("most items queued: %d (limits.queue_items %d); most logs inserts in flight: %d (insert_concurrency 1)", maxQueue.Load(), queueItems, maxInFlight.Load())
	t.Logf("Sentry events while ClickHouse was busy: %d acknowledged, %d answered 429 naming the limit", eventsOK, len(eventsRefused))
	kinds := map[string]int{}
	for _, m := range eventsRefused {
		kinds[m[:min(len(m), 150)]]++
	}
	for m, n := range kinds {
		t.Logf("%d x %s", n, m)
	}
	ackedEvents += eventsOK
	acked += grpcOK * perRequest
	t.Logf("OTLP/gRPC while ClickHouse was busy: %d acknowledged, %d UNAVAILABLE naming insert_timeout", grpcOK, len(grpcRefused))
	require.NotEmpty(t, grpcRefused, "no gRPC export answered UNAVAILABLE naming the limit")
	t.Logf("e.g. %s %s %v", grpcRefused[0].Code(), grpcRefused[0].Message(), grpcRefused[0].Details())
	require.NotEmpty(t, grpcRefused[0].Details(), "RetryInfo")
	require.Empty(t, otherStatuses)
	require.NotEmpty(t, eventsRefused, "no Sentry event answered 429 naming the limit")
	require.NotEmpty(t, namedLimit, "no 429 named storage.clickhouse.insert_timeout")
	require.LessOrEqual(t, maxQueue.Load(), int64(queueItems))
	require.LessOrEqual(t, maxInFlight.Load(), int64(1))

	// Fast again: accepted, and everything acknowledged is stored, nothing refused is.
	for range 5 {
		code, msg := send()
		require.Equal(t, http.StatusOK, code, msg)
		acked += perRequest
	}
	stored := storedCount()
	t.Logf("records acknowledged %d, stored %d, refused %d", acked, stored, refused*perRequest)
	require.Equal(t, acked, stored)
	code, msg, _ = sendEvent()
	require.Equal(t, http.StatusOK, code, msg)
	ackedEvents++
	t.Logf("Sentry events acknowledged %d, stored %d, refused %d", ackedEvents, storedEvents(), len(eventsRefused))
	require.Equal(t, ackedEvents, storedEvents())

	mfs, err := s.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "loupe_clickhouse_inserts_refused_total" {
			for _, m := range mf.Metric {
				t.Logf("%s %v %g", mf.GetName(), m.GetLabel(), m.GetCounter().GetValue())
			}
		}
	}
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
