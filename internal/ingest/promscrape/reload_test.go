package promscrape

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReloadHandler(t *testing.T) {
	calls := 0
	var fail error
	srv := httptest.NewServer(ReloadHandler(func(context.Context) error { calls++; return fail }))
	defer srv.Close()
	do := func(method string) (int, string) {
		req, err := http.NewRequest(method, srv.URL+ReloadPath, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	code, _ := do(http.MethodPost)
	require.Equal(t, http.StatusOK, code)
	code, _ = do(http.MethodPut)
	require.Equal(t, http.StatusOK, code)
	code, _ = do(http.MethodGet)
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.Equal(t, 2, calls)
	fail = errors.New("scrape config: job_name is empty")
	code, body := do(http.MethodPost)
	require.Equal(t, http.StatusInternalServerError, code)
	require.Equal(t, "failed to reload config: scrape config: job_name is empty", body)
}
