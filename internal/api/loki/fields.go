package loki

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// Field detection in log lines, as Loki's detected_fields does it
// (pkg/querier/queryrange/detected.go): a line that is a JSON object is read by the json
// parser (nested keys joined by '_', arrays skipped), else by the logfmt parser; bare
// words and empty values are not fields (Loupe's `| logfmt` skips them too, so plain text
// lines give none).

// parsedField is one key found in a line.
type parsedField struct {
	name, value string
	path        []string // JSON keys from the root, json only
}

// parseLineFields returns the fields of line and the parser that found them ("json",
// "logfmt"), or no fields and "".
func parseLineFields(line string) ([]parsedField, string) {
	trimmed := strings.TrimSpace(line)
	if strings.HasPrefix(trimmed, "{") {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(trimmed))
		dec.UseNumber()
		if err := dec.Decode(&obj); err == nil {
			var out []parsedField
			flattenJSON(obj, "", nil, &out)
			return out, "json"
		}
	}
	out := parseLogfmtFields(line)
	if len(out) == 0 {
		return nil, ""
	}
	return out, "logfmt"
}

func flattenJSON(obj map[string]any, prefix string, path []string, out *[]parsedField) {
	for k, v := range obj {
		name := logql.SanitizeLabelName(k)
		if prefix != "" {
			name = prefix + "_" + name
		}
		if name == "" {
			continue // `{"": 1}` has no label name
		}
		p := append(path[:len(path):len(path)], k)
		switch x := v.(type) {
		case map[string]any:
			flattenJSON(x, name, p, out)
		case []any:
			// Loki's json parser skips arrays.
		case nil:
		case string:
			*out = append(*out, parsedField{name, x, p})
		case json.Number:
			*out = append(*out, parsedField{name, x.String(), p})
		case bool:
			*out = append(*out, parsedField{name, strconv.FormatBool(x), p})
		}
	}
}

// parseLogfmtFields reads key=value pairs; values may be double-quoted with Go escapes.
// Bare words, empty values and malformed pairs are skipped.
func parseLogfmtFields(line string) []parsedField {
	var out []parsedField
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		start := i
		for i < len(line) && line[i] != '=' && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		key := line[start:i]
		if i >= len(line) || line[i] != '=' {
			continue // a bare word
		}
		i++ // '='
		var val string
		if i < len(line) && line[i] == '"' {
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(line) {
				return out // unterminated quote: the rest is not pairs
			}
			s, err := strconv.Unquote(line[i : j+1])
			if err != nil {
				s = line[i+1 : j]
			}
			val, i = s, j+1
		} else {
			vs := i
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				i++
			}
			val = line[vs:i]
		}
		if key != "" && val != "" {
			out = append(out, parsedField{name: logql.SanitizeLabelName(key), value: val})
		}
	}
	return out
}

// Field types, Loki's logproto.DetectedFieldType values, in the order Loki tries them.
const (
	typeInt = 1 << iota
	typeFloat
	typeBool
	typeDuration
	typeBytes
)

var typeNames = []struct {
	bit  int
	name string
}{{typeInt, "int"}, {typeFloat, "float"}, {typeBool, "boolean"}, {typeDuration, "duration"}, {typeBytes, "bytes"}}

// valueTypes returns the set of types v parses as (Loki's determineType tries int,
// float, bool, duration, bytes in turn and takes the first).
func valueTypes(v string) int {
	t := 0
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		t |= typeInt
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		t |= typeFloat
	}
	if _, err := strconv.ParseBool(v); err == nil {
		t |= typeBool
	}
	if _, err := time.ParseDuration(v); err == nil {
		t |= typeDuration
	}
	if isBytes(v) {
		t |= typeBytes
	}
	return t
}

// typeName is the first type every value of a field parses as, else "string". Loki
// types a field by one value per stream; taking every sampled value makes the answer
// independent of the order lines are read in ("1" and "1.5" give float, "200" and
// "10KB" bytes).
func typeName(set int) string {
	for _, t := range typeNames {
		if set&t.bit != 0 {
			return t.name
		}
	}
	return "string"
}

// byteUnits are go-humanize's, which Loki's detected fields use.
var byteUnits = map[string]bool{
	"": true, "b": true, "kb": true, "mb": true, "gb": true, "tb": true, "pb": true, "eb": true,
	"k": true, "m": true, "g": true, "t": true, "p": true, "e": true,
	"kib": true, "mib": true, "gib": true, "tib": true, "pib": true, "eib": true,
	"ki": true, "mi": true, "gi": true, "ti": true, "pi": true, "ei": true,
}

func isBytes(s string) bool {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if _, err := strconv.ParseFloat(s[:i], 64); err != nil {
		return false
	}
	unit := strings.ToLower(strings.TrimSpace(s[i:]))
	return byteUnits[unit]
}
