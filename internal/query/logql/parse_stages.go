package logql

import (
	"fmt"
	"strconv"
	"strings"
)

// Parsing of the pipeline stages that take arguments: json, logfmt, label_format,
// drop/keep and unwrap.

// jsonStage parses the expressions of `| json a, b="x.y"`: a bare name is the field of
// the same name.
func (p *parser) jsonStage() (Stage, error) {
	st := &ParserStage{Kind: "json"}
	if p.peek().kind != tIdent {
		return st, nil
	}
	for {
		name, err := p.ident()
		if err != nil {
			return nil, err
		}
		path := []string{name.text}
		if p.isPunct("=") {
			p.next()
			s, err := p.expectString()
			if err != nil {
				return nil, err
			}
			if path, err = parseJSONPath(s.text); err != nil {
				return nil, p.errAt(s.pos, "bad json expression %q: %v", s.text, err)
			}
		}
		st.Params = append(st.Params, JSONParam{Label: name.text, Path: path})
		if !p.isPunct(",") {
			return st, nil
		}
		p.next()
	}
}

// logfmtStage parses `| logfmt [--strict] [--keep-empty] [a, b="key"]`.
func (p *parser) logfmtStage() (Stage, error) {
	st := &ParserStage{Kind: "logfmt"}
	for p.isPunct("-") && p.peekAt(1).kind == tPunct && p.peekAt(1).text == "-" {
		p.next()
		p.next()
		f := p.next()
		switch {
		case f.kind == tIdent && f.text == "strict":
			st.Strict = true
		case f.kind == tIdent && f.text == "keep":
			// --keep-empty lexes as keep, -, empty
			if !p.isPunct("-") || p.peekAt(1).text != "empty" {
				return nil, p.errAt(f.pos, "unknown logfmt flag, want --strict or --keep-empty")
			}
			p.next()
			p.next()
			st.KeepEmpty = true
		default:
			return nil, p.errAt(f.pos, "unknown logfmt flag %s, want --strict or --keep-empty", describe(f))
		}
	}
	if p.peek().kind != tIdent {
		return st, nil
	}
	for {
		name, err := p.ident()
		if err != nil {
			return nil, err
		}
		key := name.text
		if p.isPunct("=") {
			p.next()
			s, err := p.expectString()
			if err != nil {
				return nil, err
			}
			key = s.text
		}
		st.Params = append(st.Params, JSONParam{Label: name.text, Path: []string{key}})
		if !p.isPunct(",") {
			return st, nil
		}
		p.next()
	}
}

// parseJSONPath splits `a.b[0]["c d"]` into keys and "[n]" elements.
func parseJSONPath(s string) ([]string, error) {
	var out []string
	i := 0
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("missing ]")
			}
			inner := s[i+1 : i+j]
			if uq, err := strconv.Unquote(inner); err == nil {
				out = append(out, uq)
			} else if _, err := strconv.Atoi(inner); err == nil {
				out = append(out, "["+inner+"]")
			} else {
				return nil, fmt.Errorf("bad index %q", inner)
			}
			i += j + 1
		default:
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	return out, nil
}

func (p *parser) labelFormat() (Stage, error) {
	st := &LabelFormatStage{}
	for {
		dst, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct("="); err != nil {
			return nil, err
		}
		t := p.next()
		item := LabelFormatItem{Dst: dst.text}
		switch t.kind {
		case tIdent:
			item.Src = t.text
		case tString:
			item.tmplSrc = t.text
			if item.tmpl, err = newTemplate(t.text); err != nil {
				return nil, p.errAt(t.pos, "bad label_format template: %v", err)
			}
		default:
			return nil, p.errAt(t.pos, "unexpected %s, want a label name or a template string", describe(t))
		}
		st.Items = append(st.Items, item)
		if !p.isPunct(",") {
			return st, nil
		}
		p.next()
	}
}

func (p *parser) dropKeep(keep bool) (Stage, error) {
	st := &DropKeepStage{Keep: keep}
	for {
		name, err := p.ident()
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t.kind == tPunct && (t.text == "=" || t.text == "!=" || t.text == "=~" || t.text == "!~") {
			p.i--
			m, err := p.matcher()
			if err != nil {
				return nil, err
			}
			st.Match = append(st.Match, m)
		} else {
			st.Names = append(st.Names, name.text)
		}
		if !p.isPunct(",") {
			return st, nil
		}
		p.next()
	}
}

func (p *parser) unwrap() (Stage, error) {
	t, err := p.ident()
	if err != nil {
		return nil, err
	}
	if p.isPunct("(") {
		switch t.text {
		case "duration", "duration_seconds", "bytes":
		default:
			return nil, p.unsupported(t, "unwrap "+t.text+"()")
		}
		p.next()
		l, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return &UnwrapStage{Label: l.text, Conv: t.text}, nil
	}
	return &UnwrapStage{Label: t.text}, nil
}
