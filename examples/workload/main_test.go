package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loupe-dev/loupe/sdk"
	"github.com/stretchr/testify/require"
)

// testSDK returns an SDK exporting to a receiver that accepts everything and keeps nothing:
// these tests look at the workload's behaviour, the e2e tests at its telemetry.
func testSDK(t *testing.T) *sdk.SDK {
	t.Helper()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	t.Cleanup(sink.Close)
	tel, err := sdk.Start(context.Background(), sdk.Options{ServiceName: "workload-test", Endpoint: sink.URL, NoGlobal: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	return tel
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil)
	require.NoError(t, err)
	require.Equal(t, 10, c.iterations)
	require.Equal(t, 0.2, c.errorRate)
	require.NotZero(t, c.seed, "a random seed when none is given")

	f := func(want string, args ...string) {
		t.Helper()
		_, err := parseFlags(args)
		require.ErrorContains(t, err, want)
	}
	f("--iterations -1", "--iterations", "-1")
	f("--items 0", "--items", "0")
	f("--error-rate 1.5", "--error-rate", "1.5")
	f("--fib 41", "--fib", "41")
	f("must not be negative", "--delay", "-1s")
}

func TestWorkerSeededAndErrorRate(t *testing.T) {
	tel := testSDK(t)
	run := func(seed uint64, rate float64) (int, int) {
		c := config{iterations: 4, items: 5, errorRate: rate, seed: seed, fibN: 5}
		w, err := newWorker(c, tel)
		require.NoError(t, err)
		return w.run(context.Background())
	}
	ok1, failed1 := run(42, 0.2)
	require.Equal(t, 20, ok1+failed1)
	ok2, failed2 := run(42, 0.2)
	require.Equal(t, []int{ok1, failed1}, []int{ok2, failed2}, "same seed, same run")
	_, failed := run(7, 0)
	require.Zero(t, failed)
	ok, _ := run(7, 1)
	require.Zero(t, ok)
}

func TestWorkerStopsWhenInterrupted(t *testing.T) {
	c := config{iterations: 0, items: 3, seed: 1, fibN: 1}
	w, err := newWorker(c, testSDK(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ok, failed := w.run(ctx) // iterations 0 means forever: only the context ends it
	require.Zero(t, ok+failed)
}

func TestPprofServed(t *testing.T) {
	srv, addr, err := servePprof("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.Contains(string(body), "profile"), "%s", body)
}
