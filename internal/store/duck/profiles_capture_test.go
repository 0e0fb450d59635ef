package duck

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCaptureCPUProfile records testdata/cpu.pb.gz, the real Go CPU profile the profile
// benchmarks draw their profiles from: 10 s of a loopback HTTP service that decodes JSON,
// matches regexps, gzips and sorts, under two clients (net/http, runtime, syscall and
// encoding stacks, as in a real service). Run it by hand to refresh the file:
//
//	LOUPE_CAPTURE_PPROF=1 go test ./internal/store/duck -run TestCaptureCPUProfile
func TestCaptureCPUProfile(t *testing.T) {
	if os.Getenv("LOUPE_CAPTURE_PPROF") == "" {
		t.Skip("set LOUPE_CAPTURE_PPROF=1 to record testdata/cpu.pb.gz")
	}
	srv := httptest.NewServer(http.HandlerFunc(busyHandler))
	defer srv.Close()
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Fatal(err)
	}
	stop := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				body := fmt.Sprintf(`{"user":"u%d","items":[%s],"note":"client %d request %d"}`, i%97, strings.Repeat(`{"id":1,"name":"widget","tags":["a","b"]},`, 20+i%30)+`{"id":2}`, c, i)
				resp, err := http.Post(srv.URL+"/orders", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	pprof.StopCPUProfile()
	if err := os.WriteFile("testdata/cpu.pb.gz", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote testdata/cpu.pb.gz, %d bytes", buf.Len())
}

var orderRe = regexp.MustCompile(`"name":"(\w+)"`)

type order struct {
	User  string `json:"user"`
	Items []struct {
		ID   int      `json:"id"`
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	} `json:"items"`
	Note string `json:"note"`
}

func busyHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var o order
	if err := json.Unmarshal(body, &o); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	names := orderRe.FindAllStringSubmatch(string(body), -1)
	sort.Slice(names, func(i, j int) bool { return names[i][1] < names[j][1] })
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for range 3 {
		_ = json.NewEncoder(zw).Encode(o)
	}
	_ = zw.Close()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"items":%d,"names":%d,"gz":%d}`, len(o.Items), len(names), gz.Len())
}
