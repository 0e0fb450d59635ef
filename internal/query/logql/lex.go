// Package logql parses LogQL queries and evaluates them over a log store, pushing stream
// selection, line filters and counting down to the store (see plan.Store).
package logql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber // a number, possibly followed by a unit (duration, bytes): the text says which
	tPunct
)

type token struct {
	kind tokKind
	text string // identifier, punctuation, or number text; for strings, the unquoted value
	pos  int    // byte offset in the query
}

// ParseError is a syntax error or an unsupported construct, with its position.
type ParseError struct {
	Line, Col int
	Msg       string
}

// Error reads "unsupported LogQL: `|>` at 1:22" for unsupported constructs, and as
// Loki's errors ("parse error at line 1, col 22: ...") otherwise.
func (e *ParseError) Error() string {
	if strings.HasPrefix(e.Msg, "unsupported LogQL") {
		return fmt.Sprintf("%s at %d:%d", e.Msg, e.Line, e.Col)
	}
	return fmt.Sprintf("parse error at line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

// lineCol returns the 1-based line and column (in runes) of byte offset pos.
func lineCol(src string, pos int) (int, int) {
	pos = min(pos, len(src))
	line := 1 + strings.Count(src[:pos], "\n")
	start := strings.LastIndexByte(src[:pos], '\n') + 1
	return line, 1 + utf8.RuneCountInString(src[start:pos])
}

// punctuation, longest first.
var puncts = []string{"|=", "|~", "|>", "!=", "!~", "=~", "==", ">=", "<=", "{", "}", "(", ")", "[", "]", ",", "|", "=", ">", "<", "+", "-", "*", "/", "%", "^", "!"}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	fail := func(pos int, format string, args ...any) error {
		l, c := lineCol(src, pos)
		return &ParseError{Line: l, Col: c, Msg: fmt.Sprintf(format, args...)}
	}
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '#': // comment to end of line
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case r == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, fail(i, "unterminated string")
			}
			s, err := strconv.Unquote(src[i : j+1])
			if err != nil {
				return nil, fail(i, "bad string %s: %v", src[i:j+1], err)
			}
			toks = append(toks, token{tString, s, i})
			i = j + 1
		case r == '`':
			j := strings.IndexByte(src[i+1:], '`')
			if j < 0 {
				return nil, fail(i, "unterminated raw string")
			}
			toks = append(toks, token{tString, src[i+1 : i+1+j], i})
			i += j + 2
		case r >= '0' && r <= '9' || r == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i
			for j < len(src) && (isAlnum(src[j]) || src[j] == '.') {
				j++
			}
			toks = append(toks, token{tNumber, src[i:j], i})
			i = j
		case r == '_' || unicode.IsLetter(r):
			j := i
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += s2
			}
			toks = append(toks, token{tIdent, src[i:j], i})
			i = j
		default:
			matched := false
			for _, p := range puncts {
				if strings.HasPrefix(src[i:], p) {
					toks = append(toks, token{tPunct, p, i})
					i += len(p)
					matched = true
					break
				}
			}
			if !matched {
				return nil, fail(i, "unexpected character %q", r)
			}
		}
	}
	toks = append(toks, token{tEOF, "", len(src)})
	return toks, nil
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
}
