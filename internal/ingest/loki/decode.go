package loki

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
)

// stream is one decoded Loki stream, whichever the wire format.
type stream struct {
	labels  []label // sorted by name, names valid, no duplicates
	raw     string  // the labels as sent, for error messages
	entries []entry
}

type label struct{ name, value string }

type entry struct {
	ts       time.Time
	line     string
	metadata []label // structured metadata, as sent
}

// decodeError is bad input: the client gets 400 with msg.
type decodeError struct{ msg string }

func (e *decodeError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &decodeError{msg: fmt.Sprintf(format, args...)}
}

// errTooLarge is returned when the decompressed body would exceed the limit.
var errTooLarge = errors.New("request too large")

// decodeProtobuf decodes a snappy-compressed (block format) logproto.PushRequest, as
// promtail, Alloy and the Loki clients send it. maxBytes bounds the decompressed size,
// checked from the snappy header before allocating.
func decodeProtobuf(body []byte, maxBytes int64, lim labellimit.Limits) ([]stream, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, badInput("decompress snappy body: %v (a protobuf push body must be snappy block-compressed)", err)
	}
	if int64(n) > maxBytes {
		return nil, errTooLarge
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, badInput("decompress snappy body: %v", err)
	}
	var req push.PushRequest
	if err := req.Unmarshal(raw); err != nil {
		return nil, badInput("decode protobuf PushRequest: %v", err)
	}
	out := make([]stream, 0, len(req.Streams))
	for i, s := range req.Streams {
		st := stream{raw: s.Labels, entries: make([]entry, 0, len(s.Entries))}
		// Count before parsing: the parser sorts and copies every label.
		if n := countLabels(s.Labels); lim.Labels > 0 && n > lim.Labels {
			return nil, badInput("stream %d %s: %d labels, more than the limit of %d (limits.max_attributes_per_item)", i, clip(s.Labels), n, lim.Labels)
		}
		if st.labels, err = parseLabels(s.Labels, lim); err != nil {
			return nil, badInput("stream %d %s: %v", i, clip(s.Labels), err)
		}
		for j, e := range s.Entries {
			if e.Timestamp.Before(time.Unix(0, 0)) || e.Timestamp.After(maxTime) {
				return nil, badInput("stream %d %s: entry %d: timestamp %s is outside 1970..2262", i, clip(s.Labels), j, e.Timestamp.UTC().Format(time.RFC3339Nano))
			}
			en := entry{ts: e.Timestamp, line: validUTF8(e.Line)}
			for _, m := range e.StructuredMetadata {
				en.metadata = append(en.metadata, label{name: validUTF8(m.Name), value: validUTF8(m.Value)})
			}
			st.entries = append(st.entries, en)
		}
		out = append(out, st)
	}
	return out, nil
}

// validUTF8 replaces invalid UTF-8 with U+FFFD. Protobuf strings arrive unchecked, the
// store's text columns refuse invalid UTF-8, and a batch the store refuses would be
// retried by the client forever; encoding/json makes the same replacement for JSON.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// maxTime is the last instant a uint64 of nanoseconds (OTLP) can hold as int64.
var maxTime = time.Unix(0, 1<<63-1)

// parseLabels parses a stream selector such as {app="api", env="prod"} in the Prometheus
// syntax Loki uses, and checks that there is at least one label and that names are valid
// Loki (legacy Prometheus) label names.
func parseLabels(s string, lim labellimit.Limits) ([]label, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("no labels: each stream needs at least one label, such as {job=\"app\"}")
	}
	ls, err := parser.ParseMetric(s)
	if err != nil {
		return nil, fmt.Errorf("cannot parse labels: %v", err)
	}
	out := make([]label, 0, ls.Len())
	ls.Range(func(l labels.Label) { out = append(out, label{name: l.Name, value: l.Value}) })
	return out, checkLabels(out, lim)
}

// countLabels counts the labels of a selector such as {a="x", b="y=z"} without parsing
// it: the '=' outside quoted values. Malformed input is left to the parser.
func countLabels(s string) int {
	n, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // skip the escaped character
		case c == '"':
			quoted = !quoted
		case !quoted && c == '=':
			n++
		}
	}
	return n
}

// checkLabels requires a non-empty, duplicate-free set of valid names within the label
// limits, sorted by name (it sorts ls in place). The count is checked before the sort.
func checkLabels(ls []label, lim labellimit.Limits) error {
	if len(ls) == 0 {
		return errors.New("no labels: each stream needs at least one label, such as {job=\"app\"}")
	}
	if lim.Labels > 0 && len(ls) > lim.Labels {
		return fmt.Errorf("%d labels, more than the limit of %d (limits.max_attributes_per_item)", len(ls), lim.Labels)
	}
	for _, l := range ls {
		if err := lim.CheckLabel(l.name, l.value); err != nil {
			return err
		}
	}
	sortLabels(ls)
	for i, l := range ls {
		if !validLabelName(l.name) {
			return fmt.Errorf("invalid label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", clip(l.name))
		}
		if i > 0 && ls[i-1].name == l.name {
			return fmt.Errorf("duplicate label name %q", l.name)
		}
		if !utf8.ValidString(l.value) {
			return fmt.Errorf("label %s: value is not valid UTF-8", l.name)
		}
	}
	return nil
}

// sortLabels sorts by name, keeping the order of equal names. (It was an insertion
// sort, quadratic: 100k labels took 37 CPU-seconds.)
func sortLabels(ls []label) {
	slices.SortStableFunc(ls, func(a, b label) int { return strings.Compare(a.name, b.name) })
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// jsonPush is the JSON push body:
//
//	{"streams":[{"stream":{"job":"x"},"values":[["<unix ns>","line"],["<ns>","line",{"k":"v"}]]}]}
type jsonPush struct {
	Streams []jsonStream `json:"streams"`
}

type jsonStream struct {
	Stream map[string]string `json:"stream"`
	Values []json.RawMessage `json:"values"` // each ["<ns>", "<line>"(, {metadata})]
}

// decodeJSON decodes Loki's JSON push format. Timestamps are strings of unix
// nanoseconds (numbers are accepted too); the optional third element of a value is
// structured metadata, an object of strings.
func decodeJSON(body []byte, lim labellimit.Limits) ([]stream, error) {
	var req jsonPush
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return nil, badInput("decode JSON push body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badInput("decode JSON push body: unexpected data after the JSON object")
	}
	out := make([]stream, 0, len(req.Streams))
	for i, s := range req.Streams {
		if lim.Labels > 0 && len(s.Stream) > lim.Labels {
			return nil, badInput("stream %d: %d labels, more than the limit of %d (limits.max_attributes_per_item)", i, len(s.Stream), lim.Labels)
		}
		st := stream{raw: formatLabels(s.Stream), entries: make([]entry, 0, len(s.Values))}
		for k, v := range s.Stream {
			st.labels = append(st.labels, label{name: k, value: v})
		}
		if err := checkLabels(st.labels, lim); err != nil {
			return nil, badInput("stream %d %s: %v", i, clip(st.raw), err)
		}
		for j, v := range s.Values {
			e, err := decodeJSONEntry(v)
			if err != nil {
				return nil, badInput("stream %d %s: value %d: %v", i, clip(st.raw), j, err)
			}
			st.entries = append(st.entries, e)
		}
		out = append(out, st)
	}
	return out, nil
}

// decodeJSONEntry decodes one value of a stream. The common shapes take the fast path of
// json_fast.go; everything else, and every error, goes through decodeJSONValue, which
// names the problem.
func decodeJSONEntry(raw json.RawMessage) (entry, error) {
	if e, ok := fastJSONEntry(raw); ok {
		return e, nil
	}
	var v []json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil {
		return entry{}, fmt.Errorf("want [\"<unix ns>\", \"<line>\"] or [\"<unix ns>\", \"<line>\", {metadata}]: %v", err)
	}
	return decodeJSONValue(v)
}

func decodeJSONValue(v []json.RawMessage) (entry, error) {
	var e entry
	if len(v) != 2 && len(v) != 3 {
		return e, fmt.Errorf("want [\"<unix ns>\", \"<line>\"] or [\"<unix ns>\", \"<line>\", {metadata}], got %d elements", len(v))
	}
	var tsText string
	if err := json.Unmarshal(v[0], &tsText); err != nil {
		tsText = string(v[0]) // a bare number
	}
	ns, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ns < 0 {
		return e, fmt.Errorf("timestamp %s is not unix nanoseconds", clip(string(v[0])))
	}
	e.ts = time.Unix(0, ns)
	if t := bytes.TrimSpace(v[1]); len(t) == 0 || t[0] != '"' {
		return e, fmt.Errorf("line must be a string, got %s", clip(string(v[1])))
	}
	if err := json.Unmarshal(v[1], &e.line); err != nil {
		return e, fmt.Errorf("line must be a string: %v", err)
	}
	if len(v) == 3 {
		var md map[string]string
		if err := json.Unmarshal(v[2], &md); err != nil {
			return e, fmt.Errorf("structured metadata must be an object of strings: %v", err)
		}
		for k, val := range md {
			e.metadata = append(e.metadata, label{name: k, value: val})
		}
		sortLabels(e.metadata) // map order is random; keep attributes deterministic
	}
	return e, nil
}

// formatLabels renders a JSON stream's labels as a selector, for error messages.
func formatLabels(m map[string]string) string {
	ls := make([]label, 0, len(m))
	for k, v := range m {
		ls = append(ls, label{k, v})
	}
	sortLabels(ls)
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.name + "=" + strconv.Quote(l.value))
	}
	b.WriteByte('}')
	return b.String()
}

// clip shortens client input quoted in an error message.
func clip(s string) string {
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
