package prom_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// writeEnv is an API over an empty store, with its registry, for remote write tests.
type writeEnv struct {
	store *tsdb.Store
	api   *prom.API
	reg   *prometheus.Registry
}

func newWriteEnv(t *testing.T, edit func(*prom.Options)) *writeEnv {
	t.Helper()
	s, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	opts := prom.DefaultOptions()
	if edit != nil {
		edit(&opts)
	}
	reg := prometheus.NewRegistry()
	api, err := prom.New(s, opts, nil, reg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, api.Close()) })
	return &writeEnv{store: s, api: api, reg: reg}
}

// post sends a remote write body (already compressed) and returns status and body.
func (e *writeEnv) post(t *testing.T, body []byte, contentType string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Content-Encoding", "snappy")
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// count returns how many series match the selector now.
func (e *writeEnv) count(t *testing.T, selector string) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/v1/query?"+url.Values{
		"query": {"count(" + selector + ")"}, "time": {strconv.FormatInt(time.Now().Unix()+1, 10)},
	}.Encode(), nil)
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var res struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &res), w.Body.String())
	if len(res.Data.Result) == 0 {
		return 0
	}
	n, err := strconv.Atoi(res.Data.Result[0].Value[1].(string))
	require.NoError(t, err)
	return n
}

func rw1(t *testing.T, series ...prompb.TimeSeries) []byte {
	t.Helper()
	raw, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
	require.NoError(t, err)
	return snappy.Encode(nil, raw)
}

// rw2Type is the Content-Type of a remote write 2.0 request.
const rw2Type = "application/x-protobuf;proto=io.prometheus.write.v2.Request"

// rw2 encodes a remote write 2.0 request of one series name{job="rw"} with one sample now.
func rw2(t *testing.T, names ...string) []byte {
	t.Helper()
	syms := writev2.NewSymbolTable()
	req := &writev2.Request{}
	for _, name := range names {
		req.Timeseries = append(req.Timeseries, writev2.TimeSeries{
			LabelsRefs: syms.SymbolizeLabels(labels.FromStrings("__name__", name, "job", "rw"), nil),
			Samples:    []writev2.Sample{{Value: 1, Timestamp: time.Now().UnixMilli()}},
		})
	}
	req.Symbols = syms.Symbols()
	raw, err := req.Marshal()
	require.NoError(t, err)
	return snappy.Encode(nil, raw)
}

func series(name string, extra int, valueLen int) prompb.TimeSeries {
	ls := []prompb.Label{{Name: "__name__", Value: name}, {Name: "job", Value: "rw"}}
	for i := range extra {
		ls = append(ls, prompb.Label{Name: fmt.Sprintf("l%03d", i), Value: strings.Repeat("v", max(valueLen, 1))})
	}
	return prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Value: 1, Timestamp: time.Now().UnixMilli()}}}
}

// A snappy body of a few bytes whose header declares a huge decoded size is refused with
// 413 naming the limit, before anything of that size is allocated. Before the wrapper,
// Prometheus' handler allocated the declared size and answered 400 "corrupt input".
func TestRemoteWriteDeclaredSizeOverLimit(t *testing.T) {
	e := newWriteEnv(t, nil)
	for _, declared := range []uint64{64 << 20, 4 << 30} {
		body := binary.AppendUvarint(nil, declared)
		body = append(body, 0, 0, 0, 0)
		code, msg := e.post(t, body, "application/x-protobuf")
		require.Equal(t, http.StatusRequestEntityTooLarge, code, msg)
		require.Contains(t, msg, "limits.max_request_bytes")
		require.Contains(t, msg, strconv.FormatUint(declared, 10))
	}
	require.Equal(t, 2.0, counterOf(t, e.reg, "loupe_remote_write_refused_requests_total", "decoded_too_large"))
}

// A body larger than the limit is refused with 413, read no further than the limit.
func TestRemoteWriteBodyOverLimit(t *testing.T) {
	e := newWriteEnv(t, func(o *prom.Options) { o.MaxWriteBytes = 1 << 10 })
	code, msg := e.post(t, bytes.Repeat([]byte{0xff}, 2<<10), "application/x-protobuf")
	require.Equal(t, http.StatusRequestEntityTooLarge, code, msg)
	require.Contains(t, msg, "1024 bytes (limit limits.max_request_bytes)")

	// Without Content-Length (chunked), the limit still holds.
	r := httptest.NewRequest(http.MethodPost, "/api/v1/write", io.MultiReader(bytes.NewReader(make([]byte, 2<<10))))
	r.ContentLength = -1
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
}

// Remote write 1.0: invalid series are reported with 400 after the valid ones are
// written, and counted. Before, Prometheus' handler answered 204 and only logged them.
func TestRemoteWriteV1ReportsInvalidSeries(t *testing.T) {
	e := newWriteEnv(t, nil)
	noName := prompb.TimeSeries{Labels: []prompb.Label{{Name: "job", Value: "rw"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: time.Now().UnixMilli()}}}
	code, msg := e.post(t, rw1(t, series("rw_ok", 0, 0), noName), "application/x-protobuf")
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, "1 samples rejected")
	require.Contains(t, msg, `invalid metric name or labels: {job="rw"}`)
	require.Equal(t, 1, e.count(t, "rw_ok"))
	require.Equal(t, 1.0, counterOf(t, e.reg, "loupe_remote_write_rejected_samples_total", "invalid_labels"))

	// All valid: 204, and the old clients' request without Content-Type still works.
	code, msg = e.post(t, rw1(t, series("rw_ok2", 0, 0)), "")
	require.Equal(t, http.StatusNoContent, code, msg)
	require.Equal(t, 1, e.count(t, "rw_ok2"))
}

// The pipeline's attribute limits apply to remote-written labels, for 1.0 and 2.0: the
// series over a limit is refused by name with 400 and the others are written.
func TestRemoteWriteLabelLimits(t *testing.T) {
	e := newWriteEnv(t, nil)
	code, msg := e.post(t, rw1(t, series("rw_many", 200, 1), series("rw_long", 1, 20<<10), series("rw_fine", 10, 10)), "application/x-protobuf")
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, `series "rw_many" has 202 labels, more than the limit of 128 (limits.max_attributes_per_item)`)
	require.Contains(t, msg, `value of label "l000" is 20480 bytes, more than the limit of 16384 (limits.max_attribute_value_bytes)`)
	require.Equal(t, 0, e.count(t, "rw_many"))
	require.Equal(t, 0, e.count(t, "rw_long"))
	require.Equal(t, 1, e.count(t, "rw_fine"))
	require.Equal(t, 1.0, counterOf(t, e.reg, "loupe_remote_write_rejected_samples_total", "too_many_labels"))
	require.Equal(t, 1.0, counterOf(t, e.reg, "loupe_remote_write_rejected_samples_total", "label_value_too_long"))

	// 2.0 goes through Prometheus' handler, with the same limits on its appends.
	syms := writev2.NewSymbolTable()
	v2series := func(name string, extra int) writev2.TimeSeries {
		ls := []string{"__name__", name, "job", "rw"}
		for i := range extra {
			ls = append(ls, fmt.Sprintf("l%03d", i), "v")
		}
		refs := syms.SymbolizeLabels(labels.FromStrings(ls...), nil)
		return writev2.TimeSeries{LabelsRefs: refs, Samples: []writev2.Sample{{Value: 1, Timestamp: time.Now().UnixMilli()}}}
	}
	req := &writev2.Request{Timeseries: []writev2.TimeSeries{v2series("rw2_many", 200), v2series("rw2_fine", 1)}}
	req.Symbols = syms.Symbols()
	raw, err := req.Marshal()
	require.NoError(t, err)
	code, msg = e.post(t, snappy.Encode(nil, raw), "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, `series "rw2_many" has 202 labels, more than the limit of 128`)
	require.Equal(t, 0, e.count(t, "rw2_many"))
	require.Equal(t, 1, e.count(t, "rw2_fine"))
	require.Equal(t, 2.0, counterOf(t, e.reg, "loupe_remote_write_rejected_samples_total", "too_many_labels"))
}

// counterOf reads one counter of reg by name and reason label (0 when absent).
func counterOf(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" && lp.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// FuzzRemoteWrite sends arbitrary bodies to /api/v1/write, as raw bytes (a snappy stream
// as sent) and snappy-encoded, for 1.0 and 2.0: the answer is 204, 400 or 413, never a
// crash or a 5xx, and no body allocates more than the limit.
func FuzzRemoteWrite(f *testing.F) {
	valid, err := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("fz", 2, 3)}}).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid, true, false)
	f.Add(valid, true, true)
	f.Add(binary.AppendUvarint(nil, 4<<30), false, false)
	f.Add([]byte{}, false, true)

	s, err := tsdb.Open(f.TempDir(), tsdb.DefaultOptions(), nil, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	opts := prom.DefaultOptions()
	opts.MaxWriteBytes = 1 << 20
	api, err := prom.New(s, opts, nil, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = api.Close() })

	f.Fuzz(func(t *testing.T, body []byte, encode, v2 bool) {
		if encode {
			body = snappy.Encode(nil, body)
		}
		ct := "application/x-protobuf"
		if v2 {
			ct += ";proto=io.prometheus.write.v2.Request"
		}
		r := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Content-Encoding", "snappy")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
