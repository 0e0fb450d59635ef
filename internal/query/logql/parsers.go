package logql

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Parsers: json, logfmt, regexp, pattern and unpack stages.

func (p *ParserStage) parse(e *entry) {
	switch p.Kind {
	case "json":
		p.parseJSON(e)
	case "logfmt":
		p.parseLogfmtLine(e)
	case "regexp":
		m := p.re.FindStringSubmatch(e.line)
		if m == nil {
			return
		}
		for i, name := range p.re.SubexpNames() {
			if name != "" {
				e.setExtracted(name, m[i])
			}
		}
	case "pattern":
		matchPattern(p.pattern, e.line, e.setExtracted)
	case "unpack":
		unpack(e)
	}
}

// unpack reverses Promtail's pack stage: a JSON object whose "_entry" string becomes the
// line and whose other string fields become labels. As in Loki, an object without
// "_entry" is left alone (no labels), other field types are skipped, and a line that is
// not a JSON object gets JSONParserErr.
func unpack(e *entry) {
	if e.line == "" {
		return
	}
	if e.line[0] != '{' {
		e.setError("JSONParserErr", fmt.Errorf("expecting json object(%d), but it is not", 6))
		return
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(e.line), &obj); err != nil {
		e.setError("JSONParserErr", err)
		return
	}
	packed, ok := obj["_entry"].(string)
	if !ok {
		return
	}
	for k, v := range obj {
		if s, ok := v.(string); ok && k != "_entry" {
			e.setExtracted(k, s)
		}
	}
	e.line = packed
}

func (p *ParserStage) parseJSON(e *entry) {
	if len(p.Params) == 0 {
		if err := flattenJSONLine(e.line, e.setExtracted); err != nil {
			e.setError("JSONParserErr", err)
		}
		return
	}
	dec := json.NewDecoder(strings.NewReader(e.line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		e.setError("JSONParserErr", err)
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		e.setError("JSONParserErr", fmt.Errorf("line is not a JSON object"))
		return
	}
	for _, prm := range p.Params {
		if x, ok := jsonPath(obj, prm.Path); ok {
			e.setExtracted(prm.Label, jsonLabelValue(x))
		}
	}
}

// flattenJSON is the reference flattening over decoded JSON (used by tests to check
// flattenJSONLine).
func flattenJSON(prefix string, obj map[string]any, set func(k, v string)) {
	for k, v := range obj {
		name := k
		if prefix != "" {
			name = prefix + "_" + k
		}
		switch x := v.(type) {
		case map[string]any:
			flattenJSON(name, x, set)
		case []any:
			// Loki skips arrays unless they are selected with json expressions.
		default:
			set(name, jsonLabelValue(x))
		}
	}
}

func jsonLabelValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			return ""
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
}

func jsonPath(v any, path []string) (any, bool) {
	for _, k := range path {
		if strings.HasPrefix(k, "[") {
			arr, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i, err := strconv.Atoi(k[1 : len(k)-1])
			if err != nil || i < 0 || i >= len(arr) {
				return nil, false
			}
			v = arr[i]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// parseLogfmtLine runs `| logfmt`. Without --strict, malformed pairs are skipped and set
// no error (Loki 2.9+); with it, parsing stops at the first one with LogfmtParserErr.
// With expressions (`| logfmt a, b="key"`) only the named keys are extracted.
func (p *ParserStage) parseLogfmtLine(e *entry) {
	set := e.setExtracted
	if len(p.Params) > 0 {
		set = func(k, v string) {
			for _, prm := range p.Params {
				if prm.Path[0] == k {
					e.setExtracted(prm.Label, v)
				}
			}
		}
	}
	if err := parseLogfmt(e.line, p.Strict, p.KeepEmpty, set); err != nil && p.Strict {
		e.setError("LogfmtParserErr", err)
	}
}

// parseLogfmt calls set for each key=value pair of line. Values may be double-quoted
// with Go escapes. Bare keys and empty values are skipped unless keepEmpty. A malformed
// pair (no key, an unterminated quote) is skipped, or with strict ends the parse; the
// error names the first one.
func parseLogfmt(line string, strict, keepEmpty bool, set func(k, v string)) error {
	var firstErr error
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			break
		}
		start := i
		for i < len(line) && line[i] != '=' && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		key := line[start:i]
		if i >= len(line) || line[i] != '=' {
			if keepEmpty && key != "" {
				set(key, "") // bare key
			}
			continue
		}
		i++ // '='
		var val string
		malformed := error(nil)
		if key == "" {
			malformed = fmt.Errorf("unexpected '=' at %d", start)
		}
		if i < len(line) && line[i] == '"' {
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(line) {
				err := fmt.Errorf("unterminated quoted value for key %q", key)
				if firstErr == nil {
					firstErr = err
				}
				return firstErr
			}
			s, err := strconv.Unquote(line[i : j+1])
			if err != nil {
				s = line[i+1 : j]
			}
			val = s
			i = j + 1
		} else {
			vs := i
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				i++
			}
			val = line[vs:i]
		}
		if malformed != nil {
			if firstErr == nil {
				firstErr = malformed
			}
			if strict {
				return firstErr
			}
			continue
		}
		if val != "" || keepEmpty {
			set(key, val)
		}
	}
	return firstErr
}

// patternPart is a literal or a named capture (<name>; <_> captures nothing).
type patternPart struct {
	literal string
	capture string
	isCap   bool
}

func parsePattern(s string) ([]patternPart, error) {
	var parts []patternPart
	captures := 0
	for s != "" {
		i := strings.IndexByte(s, '<')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(s[i:], '>')
		}
		name := ""
		if i >= 0 && j > 0 {
			name = s[i+1 : i+j]
		}
		if i < 0 || j < 0 || !validCaptureName(name) {
			// No (valid) capture ahead: the rest up to the next '<' candidate is literal.
			k := len(s)
			if i >= 0 {
				k = i + 1
			}
			if n := len(parts); n > 0 && !parts[n-1].isCap {
				parts[n-1].literal += s[:k]
			} else {
				parts = append(parts, patternPart{literal: s[:k]})
			}
			s = s[k:]
			continue
		}
		if i > 0 {
			if n := len(parts); n > 0 && !parts[n-1].isCap {
				parts[n-1].literal += s[:i]
			} else {
				parts = append(parts, patternPart{literal: s[:i]})
			}
		}
		if n := len(parts); n > 0 && parts[n-1].isCap {
			return nil, fmt.Errorf("captures <%s> and <%s> need a literal between them", parts[n-1].capture, name)
		}
		parts = append(parts, patternPart{capture: name, isCap: true})
		if name != "_" {
			captures++
		}
		s = s[i+j+1:]
	}
	if captures == 0 {
		return nil, fmt.Errorf("at least one named capture such as <name> is needed")
	}
	return parts, nil
}

func validCaptureName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// matchPattern matches line against parts: literals must appear in order, each capture
// takes the text up to the next literal. A line that does not match extracts nothing.
func matchPattern(parts []patternPart, line string, set func(k, v string)) {
	type kv struct{ k, v string }
	var got []kv
	pos := 0
	for i, p := range parts {
		if !p.isCap {
			if i == 0 {
				if !strings.HasPrefix(line, p.literal) {
					return
				}
				pos = len(p.literal)
			}
			continue
		}
		end := len(line)
		next := ""
		if i+1 < len(parts) {
			next = parts[i+1].literal
			k := strings.Index(line[pos:], next)
			if k < 0 {
				return
			}
			end = pos + k
		}
		if p.capture != "_" {
			got = append(got, kv{p.capture, line[pos:end]})
		}
		pos = end + len(next)
	}
	for _, g := range got {
		set(g.k, g.v)
	}
}
