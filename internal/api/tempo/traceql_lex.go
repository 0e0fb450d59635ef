package tempo

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokLBrace
	tokRBrace
	tokLParen
	tokRParen
	tokComma
	tokPipe
	tokAnd // &&
	tokOr  // ||
	tokOp  // comparison and structural operators: = != =~ !~ > >= < <= >> << ~ !> !>> !< !<< !
	tokString
	tokIdent // field names, bare values (numbers, durations, keywords)
	tokOther // anything TraceQL has no use for here
)

type token struct {
	kind tokKind
	text string // for tokString, the unquoted value
	pos  int    // byte offset in the query
}

// lexTraceQL splits q into tokens. It never fails on an operator it does not know: those
// become tokOther, and the parser names them in its error.
func lexTraceQL(q string) ([]token, error) {
	var toks []token
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.IndexByte("{}(),", c) >= 0:
			kind := map[byte]tokKind{'{': tokLBrace, '}': tokRBrace, '(': tokLParen, ')': tokRParen, ',': tokComma}[c]
			toks = append(toks, token{kind, string(c), i})
			i++
		case c == '"' || c == '`':
			s, n, err := lexString(q[i:])
			if err != nil {
				return nil, fmt.Errorf("TraceQL: string at offset %d: %w", i, err)
			}
			toks = append(toks, token{tokString, s, i})
			i += n
		case strings.HasPrefix(q[i:], "&&"):
			toks = append(toks, token{tokAnd, "&&", i})
			i += 2
		case strings.HasPrefix(q[i:], "||"):
			toks = append(toks, token{tokOr, "||", i})
			i += 2
		case c == '|':
			toks = append(toks, token{tokPipe, "|", i})
			i++
		case strings.IndexByte("=!<>~", c) >= 0:
			n := opLen(q[i:])
			toks = append(toks, token{tokOp, q[i : i+n], i})
			i += n
		case isIdentByte(c):
			j := i
			for j < len(q) && isIdentByte(q[j]) {
				j++
			}
			text := q[i:j]
			// A quoted attribute name after the scope: span."name with spaces".
			if strings.HasSuffix(text, ".") && j < len(q) && q[j] == '"' {
				name, n, err := lexString(q[j:])
				if err != nil {
					return nil, fmt.Errorf("TraceQL: attribute name at offset %d: %w", j, err)
				}
				text += name
				j += n
			}
			toks = append(toks, token{tokIdent, text, i})
			i = j
		default:
			r, n := utf8.DecodeRuneInString(q[i:])
			toks = append(toks, token{tokOther, string(r), i})
			i += n
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(q)}), nil
}

// opLen returns the length of the longest operator at the start of s.
func opLen(s string) int {
	for _, op := range []string{"!>>", "!<<", "!=", "!~", "!>", "!<", "=~", ">=", "<=", ">>", "<<"} {
		if strings.HasPrefix(s, op) {
			return len(op)
		}
	}
	return 1
}

// isIdentByte reports bytes of attribute names and bare values: letters, digits, . _ - /
// : @ and the UTF-8 bytes of non-ASCII letters (µs).
func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/' || c == ':' || c == '@' || c >= utf8.RuneSelf
}

// lexString reads a "double-quoted" (Go escapes) or `raw` string at the start of s and
// returns its value and length.
func lexString(s string) (string, int, error) {
	quote := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quote == '"' {
				i++
			}
		case quote:
			if quote == '`' {
				return s[1:i], i + 1, nil
			}
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", 0, fmt.Errorf("bad escape in %s", clip(s[:i+1]))
			}
			return v, i + 1, nil
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}
