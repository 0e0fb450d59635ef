package prom_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
// (1.0 and 2.0), its decoded size counted as its bytes; over max_series a 1.0 request
// stores its known series and answers 429 naming the new ones, a 2.0 request (which
// Prometheus' handler rolls back on an append error) 429 instead of 500.
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

	code, msg = e.post(t, rw2(t, "new2"), rw2Type)
	require.Equal(t, http.StatusTooManyRequests, code, msg)
	require.Contains(t, msg, "tenants.limits.max_series of 1 exceeded")
	require.Equal(t, 0, e.count(t, "new2"))

	// The 4 tokens are taken (max_series refusals do not give theirs back).
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
