package logql

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
)

// templateFuncs are the line_format/label_format functions of Loki (its own and the
// Sprig functions it allows, see Loki's docs/sources/query/template_functions.md), with
// the same argument order and conversions (see template_funcs.go). Times are UTC where
// Loki uses the server's local time zone (UTC in Loki's container images).
var templateFuncs = template.FuncMap{
	"ToLower":    strings.ToLower,
	"ToUpper":    strings.ToUpper,
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"Replace":    strings.Replace,
	"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"Trim":       strings.Trim,
	"TrimLeft":   strings.TrimLeft,
	"TrimRight":  strings.TrimRight,
	"TrimPrefix": strings.TrimPrefix,
	"TrimSuffix": strings.TrimSuffix,
	"TrimSpace":  strings.TrimSpace,
	"trim":       strings.TrimSpace,
	"trimAll":    func(cut, s string) string { return strings.Trim(s, cut) },
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	"title": func(s string) string {
		prev := ' '
		return strings.Map(func(r rune) rune {
			defer func() { prev = r }()
			if unicode.IsSpace(prev) {
				return unicode.ToTitle(r)
			}
			return r
		}, s)
	},
	"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
	"hasPrefix":  func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
	"hasSuffix":  func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
	"repeat":     func(n int, s string) string { return strings.Repeat(s, max(0, min(n, 1000))) },
	"substr":     substr,
	"trunc":      trunc,
	"indent":     func(n int, s string) string { return indent(n, s) },
	"nindent":    func(n int, s string) string { return "\n" + indent(n, s) },
	"alignLeft":  alignLeft,
	"alignRight": alignRight,
	"default":    defaultValue,
	"regexReplaceAll": func(re, s, repl string) (string, error) {
		r, err := regexp.Compile(re)
		if err != nil {
			return "", err
		}
		return r.ReplaceAllString(s, repl), nil
	},
	"regexReplaceAllLiteral": func(re, s, repl string) (string, error) {
		r, err := regexp.Compile(re)
		if err != nil {
			return "", err
		}
		return r.ReplaceAllLiteralString(s, repl), nil
	},
	// count counts the matches of a regexp, as in Loki.
	"count": func(re, s string) (int, error) {
		r, err := regexp.Compile(re)
		if err != nil {
			return 0, err
		}
		return len(r.FindAllStringIndex(s, -1)), nil
	},
	"b64enc":    func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"b64dec":    b64dec,
	"urlencode": url.QueryEscape,
	"urldecode": url.QueryUnescape,
	"fromJson":  fromJSON,

	"now":              time.Now,
	"date":             dateFormat,
	"toDate":           func(layout, v string) time.Time { t, _ := time.ParseInLocation(layout, v, time.UTC); return t },
	"toDateInZone":     toDateInZone,
	"unixEpoch":        func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) },
	"unixEpochMillis":  func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) },
	"unixEpochNanos":   func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) },
	"unixToTime":       unixToTime,
	"duration":         durationSeconds,
	"duration_seconds": durationSeconds,
	"bytes":            parseBytes,

	"int":     func(v any) int { return int(toInt64(v)) },
	"float64": toFloat64,
	"add": func(v ...any) int64 {
		var s int64
		for _, x := range v {
			s += toInt64(x)
		}
		return s
	},
	"sub": func(a, b any) int64 { return toInt64(a) - toInt64(b) },
	"mul": func(a any, v ...any) int64 {
		p := toInt64(a)
		for _, x := range v {
			p *= toInt64(x)
		}
		return p
	},
	"div": func(a, b any) (int64, error) {
		if toInt64(b) == 0 {
			return 0, fmt.Errorf("integer divide by zero")
		}
		return toInt64(a) / toInt64(b), nil
	},
	"mod": func(a, b any) (int64, error) {
		if toInt64(b) == 0 {
			return 0, fmt.Errorf("integer divide by zero")
		}
		return toInt64(a) % toInt64(b), nil
	},
	"addf": func(v ...any) float64 {
		s := 0.0
		for _, x := range v {
			s += toFloat64(x)
		}
		return s
	},
	"subf": func(a any, v ...any) float64 { return foldFloat(a, v, func(x, y float64) float64 { return x - y }) },
	"mulf": func(a any, v ...any) float64 { return foldFloat(a, v, func(x, y float64) float64 { return x * y }) },
	"divf": func(a any, v ...any) float64 { return foldFloat(a, v, func(x, y float64) float64 { return x / y }) },
	"max": func(a any, v ...any) int64 {
		m := toInt64(a)
		for _, x := range v {
			m = max(m, toInt64(x))
		}
		return m
	},
	"min": func(a any, v ...any) int64 {
		m := toInt64(a)
		for _, x := range v {
			m = min(m, toInt64(x))
		}
		return m
	},
	"maxf":  func(a any, v ...any) float64 { return foldFloat(a, v, math.Max) },
	"minf":  func(a any, v ...any) float64 { return foldFloat(a, v, math.Min) },
	"ceil":  func(a any) float64 { return math.Ceil(toFloat64(a)) },
	"floor": func(a any) float64 { return math.Floor(toFloat64(a)) },
	"round": round,
}

// newTemplate parses a line_format/label_format template. Besides the labels as .name,
// Loki offers the functions __line__ and __timestamp__, which are bound per entry.
func newTemplate(src string) (*template.Template, error) {
	funcs := template.FuncMap{
		"__line__":      func() string { return "" },
		"__timestamp__": func() time.Time { return time.Time{} },
	}
	return template.New("").Option("missingkey=zero").Funcs(templateFuncs).Funcs(funcs).Parse(src)
}

// render executes t for one entry. Template execution is bounded by the output size.
// Templates that do not mention __line__ or __timestamp__ run without the per-entry clone.
func render(t *template.Template, src string, labels map[string]string, line string, ts int64) (string, error) {
	c := t
	if strings.Contains(src, "__") {
		var err error
		if c, err = t.Clone(); err != nil {
			return "", err
		}
		c.Funcs(template.FuncMap{
			"__line__":      func() string { return line },
			"__timestamp__": func() time.Time { return time.Unix(0, ts).UTC() },
		})
	}
	var b limitedBuilder
	b.max = 1 << 20
	if err := c.Execute(&b, labels); err != nil {
		return "", err
	}
	return b.String(), nil
}

type limitedBuilder struct {
	strings.Builder
	max int
}

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, fmt.Errorf("template output over %d bytes", b.max)
	}
	return b.Builder.Write(p)
}
