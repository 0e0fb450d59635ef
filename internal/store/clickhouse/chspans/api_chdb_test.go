//go:build chdb

package chspans

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/native"
	"github.com/loupe-dev/loupe/internal/api/tempo"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// TestQueryAPIs serves the Tempo API and the native API's RED route over this store, as
// the server will: trace by id, tag values (the TagReader capability) and RED (the
// ServiceStatsReader capability) answer from ClickHouse.
func TestQueryAPIs(t *testing.T) {
	s := newStore(t, chsqltest.Open(t))
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	td, ids := genTraces(11, 50, 4, start, time.Second)
	require.NoError(t, s.WriteTraces(context.Background(), td))

	mux := http.NewServeMux()
	tempoAPI := tempo.New(s, nil)
	for _, p := range tempo.Paths() {
		mux.Handle(p, tempoAPI)
	}
	mux.Handle(native.Prefix, native.New(nil, s, nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string, out any) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
		require.NoError(t, json.Unmarshal(body, out), "%s: %s", path, body)
	}
	window := "start=" + strconv.FormatInt(start.Add(-time.Minute).Unix(), 10) + "&end=" + strconv.FormatInt(start.Add(5*time.Minute).Unix(), 10)

	var trace map[string]any
	get("/api/traces/"+hex.EncodeToString(ids[7][:]), &trace)
	require.NotEmpty(t, trace)

	var values struct {
		TagValues []string `json:"tagValues"`
	}
	get("/api/search/tag/http.route/values?"+window, &values)
	require.Len(t, values.TagValues, 40, "the 40 routes of genTraces")

	var red struct {
		Data struct {
			Groups []struct {
				Name string `json:"name"`
			} `json:"groups"`
		} `json:"data"`
	}
	get("/api/loupe/v1/services/red?start="+start.Add(-time.Minute).Format(time.RFC3339)+"&end="+start.Add(5*time.Minute).Format(time.RFC3339)+"&step=60s", &red)
	var names []string
	for _, g := range red.Data.Groups {
		names = append(names, g.Name)
	}
	require.ElementsMatch(t, []string{"svc0", "svc1", "svc2", "svc3", "svc4"}, names)
}
