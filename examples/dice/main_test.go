package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/loupe-dev/loupe/sdk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestRollDiceAndCounter(t *testing.T) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	tel, err := sdk.Start(context.Background(), sdk.Options{ServiceName: "dice-test", Endpoint: sink.URL, NoGlobal: true})
	require.NoError(t, err)
	defer tel.Shutdown(context.Background())
	srv := httptest.NewServer(newApp(tel, prometheus.NewRegistry()).routes())
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	seen := map[string]bool{}
	for i := range 100 {
		path := "/rolldice?player=p"
		if i%2 == 0 {
			path = "/"
		}
		code, body := get(path)
		require.Equal(t, http.StatusOK, code)
		require.Regexp(t, `^[1-6]\n$`, body)
		seen[body] = true
	}
	require.Len(t, seen, 6, "100 rolls show every face")

	code, _ := get("/nope")
	require.Equal(t, http.StatusNotFound, code)
	code, metrics := get("/metrics")
	require.Equal(t, http.StatusOK, code)
	total := 0
	matches := regexp.MustCompile(`(?m)^dice_rolls_total\{roll_value="([1-6])"\} (\d+)$`).FindAllStringSubmatch(metrics, -1)
	require.Len(t, matches, 6)
	for _, m := range matches {
		n, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		total += n
	}
	require.Equal(t, 100, total)
}
