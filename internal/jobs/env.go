package jobs

import (
	"path"
	"sort"
	"strings"
)

// DefaultEnvAllowlist are the environment variables recorded unless configured otherwise:
// the ones that change how numerical code behaves or which software it finds.
var DefaultEnvAllowlist = []string{
	"PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHASHSEED", "VIRTUAL_ENV",
	"CONDA_DEFAULT_ENV", "CONDA_PREFIX", "LANG", "LC_ALL", "TZ", "SHELL", "HOSTNAME",
	"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
	"GOMAXPROCS", "CUDA_VISIBLE_DEVICES", "JAVA_HOME", "R_LIBS", "R_LIBS_USER", "MODULEPATH",
	"LOADEDMODULES",
}

// secretWords are name fragments of variables whose values are never recorded, whatever
// the allowlist says: a name containing any of them (case-insensitive) is treated as a
// secret. PASS catches the names that end in it (MY_DB_PASS, PGPASS) besides PASSWORD,
// PASSWD and PASSPHRASE; a false positive (BYPASS_CACHE) only costs a redacted value.
var secretWords = []string{
	"TOKEN", "KEY", "SECRET", "PASS", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "AUTH",
	"PRIVATE", "COOKIE", "SESSION", "SIGNATURE", "CERT", "DSN", "API", "MUNGE", "BEARER", "JWT",
	"HEADERS", // OTEL_EXPORTER_OTLP_HEADERS carries tokens (headers.go)
}

// IsSecretName reports whether an environment variable name looks like it holds a secret.
// PWD counts as a word (MYSQL_PWD, DB_PWD), but PWD and OLDPWD themselves are directories.
func IsSecretName(name string) bool {
	up := strings.ToUpper(name)
	for _, w := range secretWords {
		if strings.Contains(up, w) {
			return true
		}
	}
	if up != "PWD" && up != "OLDPWD" {
		for _, w := range strings.Split(up, "_") {
			if w == "PWD" {
				return true
			}
		}
	}
	return false
}

// parseEnv splits "K=V" entries into a map; later entries win, as in exec.
func parseEnv(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// allowedEnv returns the variables of env matched by a pattern of allow (exact names or
// shell globs such as "MYAPP_*"), scrubbed: a name that looks like a secret is recorded
// with the value [REDACTED], and URLs in other values lose their credentials (scrubEnv).
func allowedEnv(env map[string]string, allow []string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		for _, pat := range allow {
			if ok, _ := path.Match(pat, k); ok || pat == k {
				out[k] = scrubEnv(k, v)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// schedulers maps variable prefixes to scheduler types and their job id variable.
var schedulers = []struct {
	typ, prefix, jobIDVar string
}{
	{"slurm", "SLURM_", "SLURM_JOB_ID"},
	{"pbs", "PBS_", "PBS_JOBID"},
	{"lsf", "LSB_", "LSB_JOBID"},
	{"sge", "SGE_", "JOB_ID"},
}

// detectScheduler returns the batch scheduler context of env, or nil outside a scheduler.
// SGE sets JOB_ID alongside SGE_* variables; a bare JOB_ID alone is not enough.
func detectScheduler(env map[string]string) *Scheduler {
	for _, s := range schedulers {
		vars := map[string]string{}
		for k, v := range env {
			if strings.HasPrefix(k, s.prefix) {
				vars[k] = scrubEnv(k, v)
			}
		}
		if len(vars) == 0 {
			continue
		}
		if s.typ == "sge" {
			for _, k := range []string{"JOB_ID", "JOB_NAME", "NSLOTS", "QUEUE", "SGE_TASK_ID"} {
				if v, ok := env[k]; ok {
					vars[k] = scrubEnv(k, v)
				}
			}
		}
		jobID := vars[s.jobIDVar]
		if s.typ == "slurm" && jobID == "" {
			jobID = vars["SLURM_JOBID"]
		}
		return &Scheduler{Type: s.typ, JobID: jobID, Vars: vars}
	}
	return nil
}

// sortedKeys returns m's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
