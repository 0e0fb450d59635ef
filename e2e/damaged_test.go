package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDamagedDataDirAtStart damages each file of a data directory the way a crash, a full
// disk or a stray command does, and starts Loupe on it: it either starts (the metrics WAL
// is repaired, a cut error-event log is read up to its last whole record) or exits with a
// message that names the file and says what to do. Never a panic.
func TestDamagedDataDirAtStart(t *testing.T) {
	ctx := testContext(t)
	pristine := t.TempDir()
	s := startServer(t, pristine)
	tp := newTracerProvider(t, ctx, s, viaHTTP, "damaged")
	_, span := tp.Tracer("e2e").Start(ctx, "work")
	span.End()
	require.NoError(t, tp.Shutdown(ctx))
	s.stop()
	require.NoError(t, os.WriteFile(filepath.Join(pristine, "tokens.json"), []byte(`{"tokens":[]}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(pristine, "sentry-keys.json"), []byte(`{"projects":[]}`), 0o600))
	db := "loupe.duckdb"
	dbSize := fileSize(t, filepath.Join(pristine, db))

	for _, c := range []struct {
		name   string
		damage func(dir string) error
		want   []string // the exit message holds each; nil: the server starts
	}{
		{"database truncated", func(d string) error { return os.Truncate(filepath.Join(d, db), dbSize/2) },
			[]string{db, "is damaged", "Restore it from a backup"}},
		{"database block overwritten", func(d string) error { return overwrite(filepath.Join(d, db), 5000, 300) },
			[]string{db, "is damaged", "move"}},
		{"database replaced by text", func(d string) error { return os.WriteFile(filepath.Join(d, db), []byte("not a database\n"), 0o644) },
			[]string{db}},
		{"tokens file cut short", func(d string) error {
			return os.WriteFile(filepath.Join(d, "tokens.json"), []byte(`{"tokens": [`), 0o600)
		},
			[]string{"tokens.json is damaged", "fix it or restore it"}},
		{"sentry keys file garbage", func(d string) error {
			return os.WriteFile(filepath.Join(d, "sentry-keys.json"), []byte("\x00\x01garbage"), 0o600)
		}, []string{"sentry-keys.json is damaged"}},
		{"metrics WAL overwritten", func(d string) error {
			return overwrite(filepath.Join(d, "metrics", "wal", "00000000"), 100, 500)
		}, nil},
		{"error event log cut mid-record", func(d string) error {
			return os.WriteFile(filepath.Join(d, db+".errors.log"), []byte{200, 0, 0, 0, 1, 2, 3}, 0o644)
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, exec.Command("cp", "-a", pristine+"/.", dir).Run())
			require.NoError(t, c.damage(dir))
			if c.want == nil {
				s := startServer(t, dir)
				s.stop()
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, loupeBin, "serve", "--data-dir", dir,
				"--http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0",
				"--otlp-http-listen", "127.0.0.1:0", "--statsd-listen", "127.0.0.1:0").CombinedOutput()
			require.Error(t, err, "loupe started on a damaged data dir:\n%s", out)
			require.NoError(t, ctx.Err(), "loupe neither started nor exited:\n%s", out)
			for _, w := range c.want {
				require.Contains(t, string(out), w)
			}
			require.NotContains(t, string(out), "panic")
			require.NotContains(t, string(out), "goroutine ")
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// overwrite writes n bytes of 0xA5 at offset off of the file at path.
func overwrite(path string, off int64, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xa5", n)), off); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
