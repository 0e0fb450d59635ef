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

func TestIsSecretName(t *testing.T) {
	f := func(name string, want bool) {
		t.Helper()
		require.Equal(t, want, IsSecretName(name), name)
	}
	f("GITHUB_TOKEN", true)
	f("AWS_SECRET_ACCESS_KEY", true)
	f("aws_access_key_id", true)
	f("DB_PASSWORD", true)
	f("MYSQL_PWD_PASSWD", true)
	f("GOOGLE_APPLICATION_CREDENTIALS", true)
	f("HTTP_AUTHORIZATION", true)
	f("SENTRY_DSN", true)
	f("OPENAI_API_KEY", true)
	f("SSH_PRIVATE_KEY_FILE", true)
	f("OTEL_EXPORTER_OTLP_HEADERS", true)
	f("PATH", false)
	f("OMP_NUM_THREADS", false)
	f("SLURM_JOB_ID", false)
	f("HOME", false)
}

func TestAllowedEnvNeverRecordsSecrets(t *testing.T) {
	env := parseEnv([]string{
		"PATH=/usr/bin", "OMP_NUM_THREADS=4", "MYAPP_MODE=fast", "MYAPP_TOKEN=hunter2",
		"GITHUB_TOKEN=ghp_x", "DB_PASSWORD=pw", "UNLISTED=1", "broken-entry",
	})
	got := allowedEnv(env, append(DefaultEnvAllowlist, "MYAPP_*", "GITHUB_TOKEN"))
	// Secret-looking names are kept (it matters whether a token was set), their values not.
	require.Equal(t, map[string]string{"PATH": "/usr/bin", "OMP_NUM_THREADS": "4", "MYAPP_MODE": "fast",
		"MYAPP_TOKEN": Redacted, "GITHUB_TOKEN": Redacted}, got)

	// Even "record everything" never records a secret.
	all := allowedEnv(env, []string{"*"})
	for k, v := range all {
		if IsSecretName(k) {
			require.Equal(t, Redacted, v, k)
		}
		require.NotContains(t, []string{"hunter2", "ghp_x", "pw"}, v)
	}
	require.Contains(t, all, "UNLISTED")
}

func TestDetectScheduler(t *testing.T) {
	require.Nil(t, detectScheduler(parseEnv([]string{"PATH=/bin", "JOB_ID=7"})), "a bare JOB_ID is not SGE")

	s := detectScheduler(parseEnv([]string{
		"SLURM_JOB_ID=12345", "SLURM_JOB_NAME=train", "SLURM_CPUS_PER_TASK=8",
		"SLURM_NODELIST=node[01-02]", "SLURM_AUTH_TOKEN=secret", "PATH=/bin",
	}))
	require.NotNil(t, s)
	require.Equal(t, "slurm", s.Type)
	require.Equal(t, "12345", s.JobID)
	require.Equal(t, map[string]string{"SLURM_JOB_ID": "12345", "SLURM_JOB_NAME": "train",
		"SLURM_CPUS_PER_TASK": "8", "SLURM_NODELIST": "node[01-02]", "SLURM_AUTH_TOKEN": Redacted}, s.Vars)

	s = detectScheduler(parseEnv([]string{"PBS_JOBID=99.pbs01", "PBS_O_WORKDIR=/w"}))
	require.Equal(t, "pbs", s.Type)
	require.Equal(t, "99.pbs01", s.JobID)

	s = detectScheduler(parseEnv([]string{"LSB_JOBID=5", "LSB_QUEUE=normal"}))
	require.Equal(t, "lsf", s.Type)
	require.Equal(t, "5", s.JobID)

	s = detectScheduler(parseEnv([]string{"SGE_ROOT=/opt/sge", "JOB_ID=77", "NSLOTS=4"}))
	require.Equal(t, "sge", s.Type)
	require.Equal(t, "77", s.JobID)
	require.Equal(t, "4", s.Vars["NSLOTS"])
}

// TestRunRecordsNoSecrets runs a real child with secrets in its environment, asks for every
// variable to be recorded, and checks that no secret value appears anywhere in the record
// or in what would be sent to the server.
func TestRunRecordsNoSecrets(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "runs.jsonl")
	opts := testOptions(t)
	opts.OutputPath = out
	opts.Server = "http://127.0.0.1:1" // unreachable: everything lands in the spool
	opts.EnvAllowlist = []string{"*"}
	opts.Capture = CaptureEnvironment // the real one, with everything it records
	opts.Environ = append(os.Environ(), "MY_API_TOKEN=tok-8f3a9", "DB_PASSWORD=pw-77e1",
		"SLURM_JOB_ID=4242", "SLURM_JOB_PARTITION=gpu", "SLURM_SECRET_THING=sec-1b2c",
		"PLAIN_SETTING=visible-1")
	code, rec, err := Run(context.Background(), opts, []string{"sh", "-c", "echo hello"})
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Equal(t, "visible-1", rec.Env["PLAIN_SETTING"])
	require.Equal(t, "4242", rec.Scheduler.JobID)
	require.Equal(t, "gpu", rec.Scheduler.Vars["SLURM_JOB_PARTITION"])

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	spool, err := os.ReadFile(rec.Telemetry.SpoolFile)
	require.NoError(t, err)
	// Spooled payloads are base64 protobuf: decode them before looking.
	var sent []byte
	for _, line := range strings.Split(strings.TrimSpace(string(spool)), "\n") {
		var e spoolEntry
		require.NoError(t, json.Unmarshal([]byte(line), &e))
		sent = append(sent, e.Payload...)
	}
	require.Contains(t, string(sent), "visible-1", "the record was shipped with the allowlisted env")
	// The names are recorded with the value [REDACTED]; the values never are.
	require.Equal(t, Redacted, rec.Env["MY_API_TOKEN"])
	require.Equal(t, Redacted, rec.Env["DB_PASSWORD"])
	require.Equal(t, Redacted, rec.Scheduler.Vars["SLURM_SECRET_THING"])
	for _, secret := range []string{"tok-8f3a9", "pw-77e1", "sec-1b2c"} {
		require.NotContains(t, string(b), secret)
		require.NotContains(t, string(sent), secret)
	}
}
