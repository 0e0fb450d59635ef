package runs

import (
	"encoding/json"
	"fmt"
	"time"
)

// StatusLost is the status a reader shows for a run whose stored record says running but
// whose `loupe run` stopped sending heartbeats: it was killed without a chance to send its
// final record (SIGKILL, the node crashed, the scheduler's kill at the time limit, the
// OOM killer). It is never stored: stores keep "running", and the readers derive "lost"
// at read time (Live), so a late final record still replaces it (final wins).
const StatusLost = "lost"

// Liveness rule. A running record of a `loupe run` that heartbeats carries
// heartbeat_seconds (its period) and heartbeat_time (when that copy was sent, on the
// client's clock; the first copy has only start_time). The run is lost once
//
//	last seen + max(LostAfterHeartbeats × heartbeat_seconds, MinLostGrace)
//
// has passed with no newer record. Three periods let two heartbeats be late or lost
// (each send may wait SendTimeout on a slow server); the floor keeps a very short period
// from making a run flap to lost while the server is briefly busy.
const (
	LostAfterHeartbeats = 3
	MinLostGrace        = 10 * time.Second
)

// Grace is how long after its last heartbeat a running run is still running.
func Grace(heartbeat time.Duration) time.Duration {
	return max(LostAfterHeartbeats*heartbeat, MinLostGrace)
}

// lostAfter is the time a running record with this heartbeat becomes lost; zero (never)
// when the record has no heartbeat period: `loupe run` before heartbeats existed, or a
// record from elsewhere. Such runs stay running until their final record comes, since
// nothing tells a long job from a dead one.
func lostAfter(heartbeatSeconds float64, heartbeatTime, start time.Time) time.Time {
	if heartbeatSeconds <= 0 {
		return time.Time{}
	}
	seen := heartbeatTime
	if seen.IsZero() || seen.Before(start) {
		seen = start
	}
	t := seen.Add(Grace(time.Duration(heartbeatSeconds * float64(time.Second))))
	if t.After(maxTime) {
		return maxTime
	}
	return t
}

// Live is the status to show for a stored status and LostAfter at time now: StatusLost
// for a running run past its LostAfter, the stored status otherwise.
func Live(status string, lostAfter, now time.Time) string {
	if status == StatusRunning && !lostAfter.IsZero() && !now.Before(lostAfter) {
		return StatusLost
	}
	return status
}

// Live sets s.Status to what Live says at now.
func (s *Summary) Live(now time.Time) { s.Status = Live(s.Status, s.LostAfter, now) }

// LiveRecord returns the record JSON raw with "status" set to "lost" when the run it
// describes is lost at now, and raw itself otherwise. Only running records are decoded.
func LiveRecord(raw []byte, now time.Time) ([]byte, error) {
	r, err := ParseRecord(raw)
	if err != nil {
		return nil, err
	}
	if Live(r.Status, r.LostAfter, now) != StatusLost {
		return raw, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("run record: %w", err)
	}
	m["status"] = json.RawMessage(`"` + StatusLost + `"`)
	return json.Marshal(m)
}
