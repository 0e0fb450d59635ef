package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// heartbeats returns the running records of the heartbeat log records sink received.
func (s *otlpSink) heartbeats(t *testing.T) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, ld := range s.logs {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if ev, _ := lr.Attributes().Get(EventAttribute); ev.Str() != "heartbeat" {
					continue
				}
				require.Equal(t, plog.SeverityNumberDebug, lr.SeverityNumber())
				raw, _ := lr.Attributes().Get(RecordAttribute)
				var rec Record
				require.NoError(t, json.Unmarshal([]byte(raw.Str()), &rec))
				require.Equal(t, rec.HeartbeatTime.UnixNano(), lr.Timestamp().AsTime().UnixNano())
				out = append(out, rec)
			}
		}
	}
	return out
}

// TestRunSendsHeartbeats: while the job runs, the running record is re-sent every
// heartbeat interval with heartbeat_time set, so that the server can show the run as lost
// when they stop. The job waits for a file the test creates once two heartbeats came.
func TestRunSendsHeartbeats(t *testing.T) {
	sink := &otlpSink{fail: -1}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	opts := testOptions(t)
	opts.Server = srv.URL
	opts.HeartbeatInterval = 20 * time.Millisecond
	gate := filepath.Join(t.TempDir(), "go")
	type result struct {
		code int
		rec  *Record
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, rec, err := Run(context.Background(), opts, []string{"sh", "-c", "while [ ! -e " + gate + " ]; do sleep 0.02; done"})
		done <- result{code, rec, err}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(sink.heartbeats(t)) < 2 {
		require.True(t, time.Now().Before(deadline), "no two heartbeats in 30s")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, os.WriteFile(gate, nil, 0o644))
	res := <-done
	require.NoError(t, res.err)
	require.Equal(t, 0, res.code)

	hbs := sink.heartbeats(t)
	var last time.Time
	for i, hb := range hbs {
		require.Equal(t, "running", hb.Status, "heartbeat %d", i)
		require.Equal(t, res.rec.RunID, hb.RunID)
		require.Equal(t, 0.02, hb.HeartbeatSeconds)
		require.NotNil(t, hb.HeartbeatTime)
		require.True(t, hb.HeartbeatTime.After(last), fmt.Sprintf("heartbeat %d not after the previous one", i))
		last = *hb.HeartbeatTime
	}
	// The final record says the period, and is no heartbeat.
	require.Equal(t, "succeeded", res.rec.Status)
	require.Equal(t, 0.02, res.rec.HeartbeatSeconds)
	require.Nil(t, res.rec.HeartbeatTime)
}

func TestRunRefusesBadHeartbeatInterval(t *testing.T) {
	opts := testOptions(t)
	opts.HeartbeatInterval = 0
	_, _, err := Run(context.Background(), opts, []string{"true"})
	require.ErrorContains(t, err, "heartbeat interval must be positive")
}
