package loki

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// /patterns: log line patterns with `<_>` placeholders and their counts per step, the
// answer of Loki's pattern ingester. Loki clusters every ingested line with Drain; Loupe
// clusters, when asked, the newest lines of the query in the range (at most the engine's
// entry limit, 5000 by default) with a small Drain:
//
//  1. A line is split into tokens at spaces and tabs; a double-quoted run is one token.
//     Lines over 3000 bytes or 256 tokens are skipped, as Loki's Drain skips long lines.
//  2. Lines go to the clusters of the same detected level, token count and first token
//     (first tokens with a digit, such as timestamps, share one group, and a leading
//     key=value counts by its key).
//  3. A line joins the cluster whose template it resembles most if at least 30% of the
//     template's tokens are equal to the line's (Loki's similarity threshold; the key and
//     the value of a key=value token count as two tokens); otherwise it starts a cluster
//     whose template is the line itself.
//  4. Joining turns the template tokens that differ into `<_>`; a differing `key=value`
//     keeps its key (`duration=<_>`).
//  5. A pattern is a template with runs of `<_>` collapsed into one; clusters giving the
//     same pattern are merged. A line seen once is its own pattern, as in Drain.
//
// Samples are [<unix seconds>, <count>] at multiples of the step.

const (
	patternSimilarity   = 0.3
	maxPatternLineBytes = 3000
	maxPatternTokens    = 256
	maxClustersPerGroup = 100 // beyond, lines join the most similar cluster
	placeholder         = "<_>"
)

type patternCluster struct {
	tokens  []string
	level   string
	samples map[int64]int64 // bucket start (ns) -> lines
	total   int64
}

// drain clusters lines; not safe for concurrent use.
type drain struct {
	groups map[string][]*patternCluster
	all    []*patternCluster
}

// tokenize splits a line at spaces and tabs, keeping double-quoted runs whole.
func tokenize(line string) []string {
	var out []string
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		start, quoted := i, false
		for i < len(line) && (quoted || line[i] != ' ' && line[i] != '\t') {
			switch {
			case line[i] == '\\' && quoted:
				i++
			case line[i] == '"':
				quoted = !quoted
			}
			i++
		}
		if i > len(line) {
			i = len(line)
		}
		if i > start {
			out = append(out, line[start:i])
		}
	}
	return out
}

// tokenKey returns the "key=" prefix of a key=value token.
func tokenKey(tok string) (string, bool) {
	i := strings.IndexByte(tok, '=')
	if i <= 0 || strings.ContainsAny(tok[:i], `"'`) {
		return "", false
	}
	return tok[:i+1], true
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// matches reports whether template token t covers line token s, and whether t is a
// placeholder.
func matches(t, s string) (same, param bool) {
	if t == placeholder {
		return false, true
	}
	if k, ok := strings.CutSuffix(t, placeholder); ok && strings.HasSuffix(k, "=") && strings.HasPrefix(s, k) {
		return false, true
	}
	return t == s, false
}

// similarity is Drain's: the share of the template's tokens equal to the line's, and
// the number of placeholders (which break ties). A key=value token counts as two, its
// key and its value, as Loki's logfmt tokenizer splits them.
func similarity(tmpl, toks []string) (float64, int) {
	units, same, params := 0, 0, 0
	for i, t := range tmpl {
		s := toks[i]
		if k, ok := tokenKey(t); ok {
			units += 2
			if !strings.HasPrefix(s, k) {
				continue
			}
			same++
			switch v := t[len(k):]; {
			case v == placeholder:
				params++
			case v == s[len(k):]:
				same++
			}
			continue
		}
		units++
		switch {
		case t == placeholder:
			params++
		case t == s:
			same++
		}
	}
	return float64(same) / float64(units), params
}

func (d *drain) add(toks []string, level string, bucket int64) {
	first := toks[0]
	if k, ok := tokenKey(first); ok {
		first = k // the value of a leading key=value varies as any other
	} else if hasDigit(first) {
		first = placeholder
	}
	key := fmt.Sprintf("%s\x00%d\x00%s", level, len(toks), first)
	var best *patternCluster
	bestSim, bestParams := -1.0, -1
	for _, c := range d.groups[key] {
		sim, params := similarity(c.tokens, toks)
		if sim > bestSim || sim == bestSim && params > bestParams {
			best, bestSim, bestParams = c, sim, params
		}
	}
	if best == nil || bestSim < patternSimilarity && len(d.groups[key]) < maxClustersPerGroup {
		best = &patternCluster{tokens: slices.Clone(toks), level: level, samples: map[int64]int64{}}
		d.groups[key] = append(d.groups[key], best)
		d.all = append(d.all, best)
	} else {
		for i, t := range best.tokens {
			if same, param := matches(t, toks[i]); same || param {
				continue
			}
			k1, ok1 := tokenKey(t)
			k2, ok2 := tokenKey(toks[i])
			if ok1 && ok2 && k1 == k2 {
				best.tokens[i] = k1 + placeholder
			} else {
				best.tokens[i] = placeholder
			}
		}
	}
	best.samples[bucket]++
	best.total++
}

// renderPattern joins the tokens, collapsing runs of placeholders into one.
func renderPattern(toks []string) string {
	var b strings.Builder
	prevParam := false
	for _, t := range toks {
		if t == placeholder && prevParam {
			continue
		}
		prevParam = t == placeholder
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String()
}

type patternJSON struct {
	Pattern string     `json:"pattern"`
	Level   string     `json:"level"`
	Samples [][2]int64 `json:"samples"`
	total   int64
}

// results merges clusters with the same pattern and level and orders them by line
// count, largest first, then by pattern.
func (d *drain) results() []patternJSON {
	type key struct{ pattern, level string }
	merged := map[key]*patternCluster{}
	for _, c := range d.all {
		k := key{renderPattern(c.tokens), c.level}
		m := merged[k]
		if m == nil {
			m = &patternCluster{samples: map[int64]int64{}}
			merged[k] = m
		}
		for t, n := range c.samples {
			m.samples[t] += n
		}
		m.total += c.total
	}
	out := make([]patternJSON, 0, len(merged))
	for k, m := range merged {
		p := patternJSON{Pattern: k.pattern, Level: k.level, total: m.total}
		for _, t := range slices.Sorted(maps.Keys(m.samples)) {
			p.Samples = append(p.Samples, [2]int64{t / 1e9, m.samples[t]})
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b patternJSON) int {
		if a.total != b.total {
			return int(b.total - a.total)
		}
		if c := strings.Compare(a.Pattern, b.Pattern); c != 0 {
			return c
		}
		return strings.Compare(a.Level, b.Level)
	})
	return out
}

// patterns answers /patterns: {"status":"success","data":[{"pattern","level","samples"}]}.
func (h *Handler) patterns(r *http.Request) (any, error) {
	q := form(r, "query")
	if strings.TrimSpace(q) == "" {
		return nil, bad(errors.New("query: missing stream selector"))
	}
	expr, err := logql.Parse(q)
	if err != nil {
		return nil, err
	}
	lx, ok := expr.(*logql.LogExpr)
	if !ok {
		return nil, bad(fmt.Errorf("query: %q is a metric query, want a stream selector", q))
	}
	start, end, err := timeRange(r, h.now(), time.Hour)
	if err != nil {
		return nil, bad(err)
	}
	step := defaultStep(start, end)
	if s := form(r, "step"); s != "" {
		if step, err = parseDuration(s); err != nil {
			return nil, bad(fmt.Errorf("step: %w", err))
		}
	}
	if end.Sub(start)/step > 11000 {
		return nil, bad(errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try increasing the value of the step parameter"))
	}
	limit := h.opts.Engine.MaxEntries
	if limit <= 0 {
		limit = logql.DefaultOptions().MaxEntries
	}
	res, err := h.engine.Eval(r.Context(), lx, logql.Params{Start: start, End: end, Step: step, Limit: limit})
	if err != nil {
		return nil, err
	}
	d := &drain{groups: map[string][]*patternCluster{}}
	for _, s := range res.Streams {
		level := s.Labels["detected_level"]
		for _, e := range s.Entries {
			if len(e.Line) > maxPatternLineBytes {
				continue
			}
			toks := tokenize(e.Line)
			if len(toks) == 0 || len(toks) > maxPatternTokens {
				continue
			}
			d.add(toks, level, e.Timestamp-e.Timestamp%int64(step))
		}
	}
	return envelope{Status: "success", Data: d.results()}, nil
}
