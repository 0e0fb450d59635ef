package otlp

import "encoding/binary"

// maxNesting bounds how deep a request body may nest. pdata decodes recursively, and a
// 16 MiB protobuf of nested array values (about 1.5 million levels) overflows the Go stack,
// which kills the process. Real OTLP needs about 6 levels plus 3 per level of nested
// attribute value; the pipeline rejects values nested deeper than its MaxValueDepth
// (default 16) anyway.
const maxNesting = 256

// protoTooDeep reports whether the protobuf message b nests length-delimited fields
// deeper than maxDepth. The wire format does not say which fields are messages, so every
// length-delimited field is scanned as if it were one; a field whose content does not
// parse as a message is treated as bytes. Scanning resumes after such a field, so every
// byte is read at most once. Malformed input reports false: the decoder then names the
// problem.
func protoTooDeep(b []byte, maxDepth int) bool {
	var parents []int // end offsets of the enclosing messages, innermost last
	pos, end := 0, len(b)
	for {
		if pos >= end {
			if len(parents) == 0 {
				return false
			}
			end = parents[len(parents)-1]
			parents = parents[:len(parents)-1]
			continue
		}
		next, child, ok := scanField(b[:end], pos)
		if !ok {
			if len(parents) == 0 {
				return false
			}
			pos = end // not a message: skip the rest of this field's bytes
			continue
		}
		pos = next
		if child > 0 {
			depth := len(parents) + 1
			if depth > maxDepth {
				return true
			}
			// Every level of nesting takes at least two bytes (a tag and a length), so a
			// field of child bytes holds at most child/2 more levels. Skipping the fields
			// that cannot reach the limit (attributes, strings, whole log records) leaves
			// only the large containers to walk: this scan was 7% of the server's CPU on
			// log ingest when it read every byte.
			if depth+child/2 <= maxDepth {
				pos += child
				continue
			}
			parents = append(parents, end)
			end = pos + child
		}
	}
}

// scanField reads the field at pos of b. For a non-empty length-delimited field it
// returns the offset of its content and its length; otherwise the offset after it.
func scanField(b []byte, pos int) (next, child int, ok bool) {
	tag, n := binary.Uvarint(b[pos:])
	if n <= 0 || tag>>3 == 0 {
		return 0, 0, false
	}
	pos += n
	switch tag & 7 {
	case 0: // varint
		if _, n = binary.Uvarint(b[pos:]); n <= 0 {
			return 0, 0, false
		}
		return pos + n, 0, true
	case 1: // fixed64
		if len(b)-pos < 8 {
			return 0, 0, false
		}
		return pos + 8, 0, true
	case 5: // fixed32
		if len(b)-pos < 4 {
			return 0, 0, false
		}
		return pos + 4, 0, true
	case 2: // length-delimited
		l, n := binary.Uvarint(b[pos:])
		if n <= 0 || l > uint64(len(b)-pos-n) {
			return 0, 0, false
		}
		return pos + n, int(l), true
	}
	return 0, 0, false // groups are not used by OTLP
}
