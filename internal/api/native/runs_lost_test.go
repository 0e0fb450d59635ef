package native

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/runs"
)

// TestRunsLost: a running run whose heartbeats stopped is "lost" in lists, in the status
// filter, in GET runs/{id} and in compare; one heartbeating recently stays running; the
// doc runs' running eval (no heartbeat period: an older loupe run) stays running.
func TestRunsLost(t *testing.T) {
	a, st := newRunsAPI(t)
	const lostID, liveID = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	var rs []runs.Run
	for _, c := range []struct {
		id string
		hb time.Time
	}{{lostID, testNow.Add(-5 * time.Minute)}, {liveID, testNow.Add(-30 * time.Second)}} {
		hb := c.hb
		rec := &jobs.Record{RecordVersion: 1, RunID: c.id, Name: "sim", Status: "running",
			StartTime: testNow.Add(-10 * time.Minute), HeartbeatSeconds: 30, HeartbeatTime: &hb}
		b, err := json.Marshal(rec)
		require.NoError(t, err)
		r, err := runs.ParseRecord(b)
		require.NoError(t, err)
		rs = append(rs, r)
	}
	require.NoError(t, st.UpsertRuns(t.Context(), rs))

	status := func(query string) map[string]string {
		var page runsPage
		require.NoError(t, json.Unmarshal(get(t, a, "/api/loupe/v1/runs?start=2026-11-01T00:00:00Z&"+query, http.StatusOK).Data, &page))
		out := map[string]string{}
		for _, r := range page.Runs {
			out[r["run_id"].(string)] = r["status"].(string)
		}
		return out
	}
	all := status("name=sim")
	require.Equal(t, map[string]string{lostID: "lost", liveID: "running"}, all)
	require.Equal(t, map[string]string{lostID: "lost"}, status("status=lost"))
	require.Equal(t, map[string]string{liveID: "running", docRunEval: "running"}, status("status=running"))

	var one struct {
		Run struct {
			Status string `json:"status"`
		} `json:"run"`
	}
	require.NoError(t, json.Unmarshal(get(t, a, "/api/loupe/v1/runs/"+lostID, http.StatusOK).Data, &one))
	require.Equal(t, "lost", one.Run.Status)

	var cmp struct {
		A map[string]any `json:"a"`
	}
	require.NoError(t, json.Unmarshal(get(t, a, "/api/loupe/v1/runs/compare?a="+lostID+"&b="+liveID, http.StatusOK).Data, &cmp))
	require.Equal(t, "lost", cmp.A["status"])
	require.Equal(t, testNow.Add(-5*time.Minute+90*time.Second).UTC().Format(time.RFC3339Nano), cmp.A["lost_after"])
}
