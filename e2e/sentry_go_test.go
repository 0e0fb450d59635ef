package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/require"
)

// newSentryHub is what an application does: a client for the DSN with tracing on.
func newSentryHub(t *testing.T, dsn string) *sentry.Hub {
	t.Helper()
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn: dsn, Release: "shop@2.0.0", Environment: "e2e", ServerName: "go-host",
		EnableTracing: true, TracesSampleRate: 1.0,
	})
	require.NoError(t, err)
	return sentry.NewHub(client, sentry.NewScope())
}

func loadCart(id int) error { return fmt.Errorf("cart %d: %w", id, errCartMissing) }

var errCartMissing = errors.New("cart not found")

// sentryAverage is the bug TestSentryGoSDK raises: a zero count panics with an integer
// divide by zero (runtime.errorString), a day past totals with an index out of range
// (runtime.boundsError).
func sentryAverage(totals []int, day, count int) int { return totals[day] / count }

// sentryReport recovers sentryAverage's panic into Sentry as an application's handler
// would; each kind calls sentryAverage from its own line.
func sentryReport(hub *sentry.Hub, kind string) {
	defer func() {
		if err := recover(); err != nil {
			hub.Recover(err)
		}
	}()
	totals := []int{70, 490}
	switch kind {
	case "daily":
		sentryAverage(totals, 0, 0)
	case "weekly":
		sentryAverage(totals, 1, 0)
	default:
		sentryAverage(totals, 2, 7)
	}
}

// TestSentryGoSDK: github.com/getsentry/sentry-go, unchanged, against the real binary.
func TestSentryGoSDK(t *testing.T) {
	s := startSentryServer(t)
	hub := newSentryHub(t, s.dsn(sentryKeyAPI, "1"))
	// sentry-go 0.46 removed Scope.SetExtra (and Event.Extra) and points to contexts instead.
	hub.Scope().SetContext("shop", sentry.Context{"password": sentryPassword})

	hub.AddBreadcrumb(&sentry.Breadcrumb{Category: "cart", Message: "opened cart 7", Level: sentry.LevelInfo}, nil)
	hub.CaptureException(loadCart(7))
	hub.CaptureMessage("payment provider slow")
	hub.WithScope(func(scope *sentry.Scope) {
		scope.SetFingerprint([]string{"payments-timeout"})
		hub.CaptureMessage("timeout talking to payments (attempt 3)")
	})

	ctx := sentry.SetHubOnContext(context.Background(), hub)
	tx := sentry.StartTransaction(ctx, "GET /cart/{id}", sentry.WithOpName("http.server"))
	child := tx.StartChild("db.query", sentry.WithDescription("SELECT * FROM carts WHERE id = ?"))
	time.Sleep(2 * time.Millisecond)
	child.Finish()
	// Inside the transaction: one bug from two call sites, and another.
	sentryReport(hub, "daily")
	sentryReport(hub, "weekly")
	sentryReport(hub, "broken")
	tx.Finish()
	traceID := tx.TraceID.String()

	id := hub.CaptureCheckIn(&sentry.CheckIn{MonitorSlug: "go-nightly-report", Status: sentry.CheckInStatusInProgress},
		&sentry.MonitorConfig{Schedule: sentry.IntervalSchedule(1, sentry.MonitorScheduleUnitDay), CheckInMargin: 5, MaxRuntime: 30})
	require.NotNil(t, id)
	require.True(t, hub.Flush(10*time.Second))
	checkInRun(t, s, "go-nightly-report", "running")
	hub.CaptureCheckIn(&sentry.CheckIn{ID: *id, MonitorSlug: "go-nightly-report", Status: sentry.CheckInStatusError, Duration: 3 * time.Second}, nil)
	require.True(t, hub.Flush(10*time.Second))

	waitSentryItems(t, s, "1", "event", sentryEventsProject1)
	checkSentryIssues(t, s, "*fmt.wrapError", "opened cart 7", "shop@2.0.0", "contexts.shop.password")
	tr := waitTrace(t, s, traceID, 2)
	require.ElementsMatch(t, []string{"shop-api: GET /cart/{id}", "shop-api: SELECT * FROM carts WHERE id = ?"}, tr.spanNames())
	checkSentryGrouping(t, s, "runtime.errorString", "runtime.boundsError", traceID, "contexts.shop.password")
	run := checkInRun(t, s, "go-nightly-report", "failed")
	require.Equal(t, "error", run.Tags["sentry.status"])
	require.Equal(t, "sentry", run.Tags["source"])
	require.InDelta(t, 3.0, *run.DurationSeconds, 0.01)

	// A bad key: 401, nothing stored.
	bad := newSentryHub(t, s.dsn(sentryBadKey, "1"))
	bad.CaptureMessage("from a bad key")
	bad.Flush(10 * time.Second)
	eventually(t, 10*time.Second, func() error {
		if n := metricSum(t, s, "loupe_sentry_requests_total", map[string]string{"project": "unknown", "status": "401"}); n < 1 {
			return fmt.Errorf("%g requests refused with 401", n)
		}
		return nil
	})

	// Rate limit: the first event passes, the second gets 429 with X-Sentry-Rate-Limits,
	// and the SDK then keeps the next ones to itself.
	limited := newSentryHub(t, s.dsn(sentryKeyLimited, "3"))
	limited.CaptureMessage("first")
	require.True(t, limited.Flush(10*time.Second))
	waitSentryItems(t, s, "3", "event", 1)
	limited.CaptureMessage("second")
	limited.Flush(10 * time.Second)
	waitSentryItems(t, s, "3", "event", 2)
	require.Equal(t, float64(1), metricSum(t, s, "loupe_sentry_items_total", map[string]string{"project": "3", "type": "event", "outcome": "rate_limited"}))
	for i := range 5 {
		limited.CaptureMessage(fmt.Sprintf("more %d", i))
	}
	limited.Flush(5 * time.Second)
	require.Equal(t, float64(2), sentryItems(t, s, "3", "event"), "the SDK sent nothing more after the 429")
}
