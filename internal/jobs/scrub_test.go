package jobs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScrubURLs(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		require.Equal(t, want, ScrubURLs(in), in)
	}
	f("https://bob:hunter3@example.com/x", "https://bob:[REDACTED]@example.com/x")
	f("postgres://app:p@ss@db:5432/runs?sslmode=off", "postgres://app:[REDACTED]@db:5432/runs?sslmode=off")
	f("redis://:only-password@cache:6379", "redis://:[REDACTED]@cache:6379")
	f("https://ghp_abc123@github.com/o/r.git", "https://[REDACTED]@github.com/o/r.git")
	f("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git")
	f("a=https://u:p@h1/x,b=HTTP://v:q@h2", "a=https://u:[REDACTED]@h1/x,b=HTTP://v:[REDACTED]@h2")
	f("https://example.com/path?email=a@b.c", "https://example.com/path?email=a@b.c")
	f("see https://example.com then mail bob@example.com", "see https://example.com then mail bob@example.com")
	f("/usr/bin:/bin", "/usr/bin:/bin")
	f("", "")
}

func TestIsSecretNameCatchesPassAndFriends(t *testing.T) {
	f := func(name string, want bool) {
		t.Helper()
		require.Equal(t, want, IsSecretName(name), name)
	}
	f("MY_DB_PASS", true)
	f("PGPASS", true)
	f("SLURM_DB_PASS", true)
	f("MYSQL_PWD", true)
	f("SLURM_MUNGE_SOCKET_SECRET", true)
	f("MUNGE_KEY", true)
	f("SLURM_JWT", true)
	f("PWD", false)
	f("OLDPWD", false)
	f("SLURM_JOB_ID", false)
	f("SLURM_JOB_NODELIST", false)
	f("SLURM_SUBMIT_DIR", false)
}

func TestScrubArgs(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		require.Equal(t, strings.Fields(want), ScrubArgs(strings.Fields(in)), in)
	}
	f("python train.py --lr 0.1", "python train.py --lr 0.1")
	f("curl https://bob:hunter3@example.com/x", "curl https://bob:[REDACTED]@example.com/x")
	f("psql --password s3cret -h db", "psql --password [REDACTED] -h db")
	f("tool --db-pass=s3cret --hf-token x1 --api-key=k2", "tool --db-pass=[REDACTED] --hf-token [REDACTED] --api-key=[REDACTED]")
	f("train.py db.password=s3cret trainer.max_tokens=100 --author me", "train.py db.password=[REDACTED] trainer.max_tokens=100 --author me")
	f("env DB_PASS=s3cret MY_API_TOKEN=t OMP_NUM_THREADS=4 python x.py", "env DB_PASS=[REDACTED] MY_API_TOKEN=[REDACTED] OMP_NUM_THREADS=4 python x.py")
	f("tool --password", "tool --password")
	f("tool --password -starts-with-dash", "tool --password [REDACTED]")
}

// TestRunScrubsSecrets runs a real child with a password in a variable ending in PASS, a
// secret SLURM variable and credentials in a URL argument and in a variable's value: the
// record keeps the names and the useful SLURM variables, never the secrets.
func TestRunScrubsSecrets(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "runs.jsonl")
	opts := testOptions(t)
	opts.OutputPath = out
	opts.EnvAllowlist = append(DefaultEnvAllowlist, "MY_*")
	opts.Environ = append(os.Environ(), "MY_DB_PASS=hunter2secret", "MY_INDEX=https://__token__:pypi-hunter5secret@pypi.example/simple",
		"SLURM_JOB_ID=4242", "SLURM_DB_PASS=hunter4secret", "SLURM_JOB_NODELIST=node[01-02]")
	code, rec, err := Run(context.Background(), opts, []string{"sh", "-c", "exit 0", "sh", "https://bob:hunter3secret@example.com/x"})
	require.NoError(t, err)
	require.Equal(t, 0, code)

	require.Equal(t, Redacted, rec.Env["MY_DB_PASS"])
	require.Equal(t, "https://__token__:[REDACTED]@pypi.example/simple", rec.Env["MY_INDEX"])
	require.Equal(t, "4242", rec.Scheduler.JobID)
	require.Equal(t, "node[01-02]", rec.Scheduler.Vars["SLURM_JOB_NODELIST"])
	require.Equal(t, Redacted, rec.Scheduler.Vars["SLURM_DB_PASS"])
	require.Equal(t, "https://bob:[REDACTED]@example.com/x", rec.Command[4])
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	for _, secret := range []string{"hunter2secret", "hunter3secret", "hunter4secret", "hunter5secret"} {
		require.NotContains(t, string(b), secret)
	}
	var back Record
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, rec.CommandLine, back.CommandLine)
}

func FuzzScrubURLs(f *testing.F) {
	for _, s := range []string{"https://u:p@h/x", "a://@", "x://a:b@c@d/e", "https://tok@h", "://@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := ScrubURLs(s)
		if out2 := ScrubURLs(out); out2 != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, out2)
		}
	})
}
