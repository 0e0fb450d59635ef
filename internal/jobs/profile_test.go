package jobs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// --profile hands the SDK its switch and the server's HTTP address; a LOUPE_PROFILE_SERVER
// the user set wins, and without --profile neither is set.
func TestChildEnvProfile(t *testing.T) {
	childEnv := func(o Options, env map[string]string) map[string]string {
		r := &runner{opts: o, env: env, rec: &Record{RunID: "r1", Name: "job",
			Telemetry: Telemetry{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"}}}
		m := map[string]string{}
		for _, kv := range r.childEnv() {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	got := childEnv(Options{Server: "http://127.0.0.1:4318", Profile: true, ProfileServer: "http://127.0.0.1:7070"}, nil)
	require.Equal(t, "1", got["LOUPE_PROFILE"])
	require.Equal(t, "http://127.0.0.1:7070", got["LOUPE_PROFILE_SERVER"])
	require.Equal(t, "r1", got["LOUPE_RUN_ID"])

	got = childEnv(Options{Profile: true, ProfileServer: "http://a:7070"}, map[string]string{"LOUPE_PROFILE_SERVER": "http://mine:1"})
	require.Equal(t, "http://mine:1", got["LOUPE_PROFILE_SERVER"])

	got = childEnv(Options{Server: "http://127.0.0.1:4318", ProfileServer: "http://a:7070"}, nil)
	require.NotContains(t, got, "LOUPE_PROFILE")
	require.NotContains(t, got, "LOUPE_PROFILE_SERVER")
}
