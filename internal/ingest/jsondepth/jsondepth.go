// Package jsondepth tells whether a JSON text nests deeper than a bound without decoding
// it, so that ingest endpoints can refuse a deeply nested body before a recursive decoder
// spends its stack on it.
package jsondepth

// Exceeds reports whether the JSON text b opens more than max objects and arrays inside
// each other. Brackets inside strings do not count. It reads every byte once and never
// recurses. Malformed input reports false: the decoder then names the problem.
func Exceeds(b []byte, max int) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}
