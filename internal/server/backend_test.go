package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

type fakeRetainer struct{ got []store.Signal }

func (f *fakeRetainer) DropBefore(_ context.Context, s store.Signal, _ time.Time) error {
	f.got = append(f.got, s)
	return nil
}

func TestSignalRetainerSendsEachSignalToItsStore(t *testing.T) {
	logs, spans := &fakeRetainer{}, &fakeRetainer{}
	r := signalRetainer{store.SignalLogs: logs, store.SignalSpans: spans}
	ctx := context.Background()
	for _, s := range []store.Signal{store.SignalLogs, store.SignalSpans, store.SignalProfiles} {
		require.NoError(t, r.DropBefore(ctx, s, time.Now()))
	}
	require.Equal(t, []store.Signal{store.SignalLogs}, logs.got)
	require.Equal(t, []store.Signal{store.SignalSpans}, spans.got)
}

type sizerFunc func() (map[store.Signal]int64, error)

func (f sizerFunc) DiskBytes(context.Context) (map[store.Signal]int64, error) { return f() }

func TestSizersMergeAndKeepWhatTheyCould(t *testing.T) {
	ss := sizers{
		sizerFunc(func() (map[store.Signal]int64, error) { return map[store.Signal]int64{store.SignalLogs: 3}, nil }),
		sizerFunc(func() (map[store.Signal]int64, error) { return nil, errors.New("down") }),
		sizerFunc(func() (map[store.Signal]int64, error) { return map[store.Signal]int64{store.SignalMetrics: 5}, nil }),
	}
	got, err := ss.DiskBytes(context.Background())
	require.ErrorContains(t, err, "down")
	require.Equal(t, map[store.Signal]int64{store.SignalLogs: 3, store.SignalMetrics: 5}, got)
}

func TestNotSupportedAnswers501WithTheReason(t *testing.T) {
	rec := httptest.NewRecorder()
	notSupported("no TSDB here").ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/status/tsdb", nil))
	require.Equal(t, 501, rec.Code)
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, map[string]string{"status": "error", "errorType": "unavailable", "error": "no TSDB here"}, body)
}
