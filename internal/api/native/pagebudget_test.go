package native

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

// A page of large records ends at maxPageBytes with a next_cursor, instead of holding up to
// 10,000 bodies of 256 KiB (2.5 GB) in memory; following the cursor gets the rest.
func TestLogsPageEndsAtByteBudget(t *testing.T) {
	body := strings.Repeat("x", 1<<20)
	recs := make([]store.LogRecord, 40)
	for i := range recs {
		recs[i] = store.LogRecord{Body: body, Attributes: map[string]any{"k": strings.Repeat("v", 1000)}}
	}
	a := newTestAPI(&fakeStore{records: recs}, nil)

	seen := 0
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		target := "/api/loupe/v1/logs?limit=1000"
		if cursor != "" {
			target += "&cursor=" + cursor
		}
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var env struct {
			Data struct {
				Records    []json.RawMessage `json:"records"`
				NextCursor string            `json:"next_cursor"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
		n := len(env.Data.Records)
		require.LessOrEqual(t, n, maxPageBytes/(1<<20)+1, "page "+strconv.Itoa(pages)+" is over the byte budget")
		seen += n
		cursor = env.Data.NextCursor
		if cursor == "" {
			break
		}
	}
	require.Equal(t, len(recs), seen, "paging must still reach every record")
}
