package logql

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"
	"unicode"
)

// templateFuncs are the line_format/label_format functions of Loki that are cheap to
// offer; a template using another function fails to parse with Go's "function not
// defined" error.
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
	"contains":  func(sub, s string) bool { return strings.Contains(s, sub) },
	"hasPrefix": func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
	"hasSuffix": func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
	"repeat":    func(n int, s string) string { return strings.Repeat(s, max(0, min(n, 1000))) },
	"substr": func(start, end int, s string) string {
		start, end = max(0, start), min(len(s), end)
		if start >= end {
			return ""
		}
		return s[start:end]
	},
	"default": func(def string, v ...any) string {
		if len(v) == 0 || fmt.Sprint(v[0]) == "" {
			return def
		}
		return fmt.Sprint(v[0])
	},
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
	"unixEpoch": func(t time.Time) string { return fmt.Sprint(t.Unix()) },
	"toDate": func(layout, v string) time.Time {
		t, _ := time.Parse(layout, v)
		return t
	},
	"date":  func(layout string, t time.Time) string { return t.Format(layout) },
	"now":   time.Now,
	"count": func(sub, s string) int { return strings.Count(s, sub) },
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
