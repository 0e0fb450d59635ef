package prom_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// tenantAdmitter has room in the queue and refuses what its tenant limiter refuses.
type tenantAdmitter struct {
	lim   *tenant.Limiter
	bytes []int64
}

func (a *tenantAdmitter) AdmitMetrics(context.Context, string, int, bool) (func(), error) {
	return func() {}, nil
}

func (a *tenantAdmitter) AdmitTenant(signal string, items int, bytes int64) error {
	a.bytes = append(a.bytes, bytes)
	return a.lim.Admit(items, bytes)
}

// A remote write over the tenant's ingest rate is refused whole with 429 naming the limit
// (1.0 and 2.0), its decoded size counted as its bytes; over max_series a request, 1.0 or
// 2.0, stores its known series and answers 429 naming the new ones (before, Prometheus'
// 2.0 handler rolled the whole request back).
func TestRemoteWriteTenantLimits(t *testing.T) {
	opts := tsdb.DefaultOptions()
	opts.MaxSeries, opts.Tenant = 1, "team-a"
	s, err := tsdb.Open(t.TempDir(), opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	clock := time.Unix(0, 0)
	adm := &tenantAdmitter{lim: tenant.NewLimiter("team-a", tenant.Limits{IngestRate: 1, IngestBurst: 4}, func() time.Time { return clock })}
	popts := prom.DefaultOptions()
	popts.WriteAdmitter = adm
	api, err := prom.New(s, popts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, api.Close()) })
	e := &writeEnv{store: s, api: api}

	code, msg := e.post(t, rw1(t, series("known", 0, 0)), "application/x-protobuf")
	require.Equal(t, http.StatusNoContent, code, msg)
	require.Positive(t, adm.bytes[0], "the decoded body's size")

	code, msg = e.post(t, rw1(t, series("known", 0, 0), series("new1", 0, 0)), "application/x-protobuf")
	require.Equal(t, http.StatusTooManyRequests, code, msg)
	require.Contains(t, msg, `tenant "team-a": tenants.limits.max_series of 1 exceeded`)
	require.Contains(t, msg, "new1")
	require.Equal(t, 1, e.count(t, "known"))
	require.Equal(t, 0, e.count(t, "new1"))

	before := samples(t, s, "known")
	clock = clock.Add(time.Second)   // a fifth token for this request's two samples
	time.Sleep(2 * time.Millisecond) // a timestamp (ms) after the stored one: a new sample
	code, msg = e.post(t, rw2(t, "known", "new2"), rw2Type)
	require.Equal(t, http.StatusTooManyRequests, code, msg)
	require.Contains(t, msg, "tenants.limits.max_series of 1 exceeded")
	require.Contains(t, msg, "new2")
	require.Equal(t, 0, e.count(t, "new2"))
	require.Equal(t, before+1, samples(t, s, "known"), "the known series' sample is stored")

	// The 5 tokens are taken (max_series refusals do not give theirs back).
	code, msg = e.post(t, rw1(t, series("known", 0, 0)), "application/x-protobuf")
	require.Equal(t, http.StatusTooManyRequests, code, msg)
	require.Contains(t, msg, `tenant "team-a": tenants.limits.ingest_rate of 1 items/s exceeded`)
	clock = clock.Add(time.Second)
	code, msg = e.post(t, rw2(t, "known"), rw2Type)
	require.Equal(t, http.StatusNoContent, code, msg)
	code, msg = e.post(t, rw2(t, "known"), rw2Type)
	require.Equal(t, http.StatusTooManyRequests, code, msg)
	require.Contains(t, msg, "tenants.limits.ingest_rate")
}

// samples counts the stored samples of the series named name.
func samples(t *testing.T, s *tsdb.Store, name string) int {
	t.Helper()
	q, err := s.Querier(0, time.Now().Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	n := 0
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != chunkenc.ValNone {
			n++
		}
	}
	require.NoError(t, ss.Err())
	return n
}

// A remote write 2.0 request of many new series over max_series answers a 429 that lists
// the first ten refusals and counts the rest, as 1.0 does, and the refusals are not
// logged one line per sample (Prometheus' handler logs each at error level); a 400 for
// other refused samples is cut the same way.
func TestRemoteWriteV2LimitMessageCapped(t *testing.T) {
	opts := tsdb.DefaultOptions()
	opts.MaxSeries, opts.Tenant = 1, "team-a"
	s, err := tsdb.Open(t.TempDir(), opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	api, err := prom.New(s, prom.DefaultOptions(), logger, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, api.Close()) })
	e := &writeEnv{store: s, api: api}

	names := []string{"known"}
	for i := range 25 {
		names = append(names, fmt.Sprintf("new%02d", i))
	}
	code, msg := e.post(t, rw2(t, names...), rw2Type)
	require.Equal(t, http.StatusTooManyRequests, code, msg)
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	require.Len(t, lines, 11, msg)
	for _, l := range lines[:10] {
		require.Contains(t, l, "tenants.limits.max_series of 1 exceeded")
	}
	require.Equal(t, "(and 15 more, not listed)", lines[10])
	require.Equal(t, 1, e.count(t, "known"))
	require.NotContains(t, logs.String(), "Out of order sample", "limit refusals are not logged per sample")

	// Other refusals (400) are listed the same way.
	names = names[:0]
	for i := range 25 {
		names = append(names, fmt.Sprintf("long%02d_%s", i, strings.Repeat("x", 17<<10)))
	}
	code, msg = e.post(t, rw2(t, names...), rw2Type)
	require.Equal(t, http.StatusBadRequest, code, msg)
	lines = strings.Split(strings.TrimSpace(msg), "\n")
	require.Len(t, lines, 11, msg)
	require.Contains(t, lines[0], "more than the limit")
	require.Equal(t, "(and 15 more, not listed)", lines[10])
}
