package runs

import (
	"encoding/json"
	"testing"
	"time"
)

func TestGrace(t *testing.T) {
	for _, c := range []struct{ hb, want time.Duration }{
		{time.Second, MinLostGrace},
		{30 * time.Second, 90 * time.Second},
		{10 * time.Minute, 30 * time.Minute},
	} {
		if got := Grace(c.hb); got != c.want {
			t.Errorf("Grace(%s) = %s, want %s", c.hb, got, c.want)
		}
	}
}

// record is a run record with the given status and heartbeat fields.
func record(t *testing.T, status string, hbSeconds float64, hbTime *time.Time) []byte {
	t.Helper()
	m := map[string]any{
		"record_version": 1, "run_id": "0123456789abcdef0123456789abcdef", "name": "job",
		"status": status, "start_time": "2026-12-07T10:00:00Z", "end_time": "0001-01-01T00:00:00Z",
	}
	if hbSeconds != 0 {
		m["heartbeat_seconds"] = hbSeconds
	}
	if hbTime != nil {
		m["heartbeat_time"] = hbTime
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLiveness(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	hb := start.Add(5 * time.Minute)
	for _, c := range []struct {
		name      string
		raw       []byte
		lostAfter time.Time
		at        time.Time
		want      string
	}{
		{"first record, before grace", record(t, "running", 30, nil), start.Add(90 * time.Second), start.Add(89 * time.Second), StatusRunning},
		{"first record, at grace", record(t, "running", 30, nil), start.Add(90 * time.Second), start.Add(90 * time.Second), StatusLost},
		{"heartbeat moves last seen", record(t, "running", 30, &hb), hb.Add(90 * time.Second), start.Add(2 * time.Minute), StatusRunning},
		{"floor for short periods", record(t, "running", 0.5, &hb), hb.Add(MinLostGrace), hb.Add(9 * time.Second), StatusRunning},
		{"no heartbeat period: never lost", record(t, "running", 0, nil), time.Time{}, start.Add(1000 * time.Hour), StatusRunning},
		{"final is never lost", record(t, "succeeded", 30, nil), time.Time{}, start.Add(1000 * time.Hour), StatusSucceeded},
		{"killed is never lost", record(t, "killed", 30, &hb), time.Time{}, start.Add(1000 * time.Hour), StatusKilled},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseRecord(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !r.LostAfter.Equal(c.lostAfter) {
				t.Errorf("LostAfter = %s, want %s", r.LostAfter, c.lostAfter)
			}
			s := r.Summary
			s.Live(c.at)
			if s.Status != c.want {
				t.Errorf("status at %s = %s, want %s", c.at, s.Status, c.want)
			}
			live, err := LiveRecord(c.raw, c.at)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Status string `json:"status"`
				Name   string `json:"name"`
			}
			if err := json.Unmarshal(live, &got); err != nil {
				t.Fatal(err)
			}
			if got.Status != c.want || got.Name != "job" {
				t.Errorf("LiveRecord: status %q name %q, want %q job", got.Status, got.Name, c.want)
			}
		})
	}
}

func TestParseRecordRefusesBadHeartbeat(t *testing.T) {
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, raw := range [][]byte{
		record(t, "running", -1, nil),
		record(t, "running", 30, &far),
	} {
		if _, err := ParseRecord(raw); err == nil {
			t.Errorf("ParseRecord(%s): no error", raw)
		}
	}
}
