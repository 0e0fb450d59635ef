package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/ingest/pyroscope"
	"github.com/loupe-dev/loupe/internal/store"
)

type profileRecorder struct {
	mu sync.Mutex
	ps []store.Profile
}

func (r *profileRecorder) WriteProfiles(_ context.Context, ps []store.Profile) error {
	r.mu.Lock()
	r.ps = append(r.ps, ps...)
	r.mu.Unlock()
	return nil
}

// loupe profile push sends a real pprof file and folded stacks to the /ingest handler,
// with the token from LOUPE_TOKEN.
func TestProfilePush(t *testing.T) {
	rec := &profileRecorder{}
	h := pyroscope.NewHandler(rec, pyroscope.DefaultOptions(), nil, nil)
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("LOUPE_TOKEN", "loupe_test")

	dir := t.TempDir()
	var b bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&b, 0))
	pb := filepath.Join(dir, "goroutine.pb.gz")
	require.NoError(t, os.WriteFile(pb, b.Bytes(), 0o600))
	folded := filepath.Join(dir, "stacks.folded")
	require.NoError(t, os.WriteFile(folded, []byte("main;work 3\nmain;idle 1\n"), 0o600))

	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), append([]string{"profile", "push", "--url", srv.URL}, args...), &out, &errOut)
		return out.String(), err
	}
	out, err := run("--service", "api", "--label", "env=lab", pb, folded)
	require.NoError(t, err, out)
	require.Contains(t, out, "goroutine.pb.gz: pushed (pprof) as api{env=lab}")
	require.Contains(t, out, "stacks.folded: pushed (folded) as api{env=lab}")
	require.Equal(t, "Bearer loupe_test", auth)
	types := map[string]store.Profile{}
	for _, p := range rec.ps {
		types[p.Type.ID()] = p
	}
	require.Contains(t, types, "goroutines:goroutine:count:goroutine:count")
	require.Contains(t, types, "process_cpu:samples:count:cpu:nanoseconds")
	require.Equal(t, map[string]string{"service_name": "api", "env": "lab"}, types["process_cpu:samples:count:cpu:nanoseconds"].Labels)

	_, err = run("--service", "api", "--type", "nope", pb)
	require.ErrorContains(t, err, "--type")
	_, err = run("--service", "api", "--label", "bad", pb)
	require.ErrorContains(t, err, "--label")
	garbage := filepath.Join(dir, "garbage.pb")
	require.NoError(t, os.WriteFile(garbage, []byte{0x1f, 0x8b, 0, 1, 2}, 0o600))
	_, err = run("--service", "api", garbage)
	require.ErrorContains(t, err, "not a usable pprof profile")
	_, err = run("--service", "api", "--type", "heap", folded) // folded stacks need one sample type
	require.ErrorContains(t, err, "400")
}
