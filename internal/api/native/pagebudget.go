package native

import "github.com/loupe-dev/loupe/internal/store"

// maxPageBytes bounds the bytes of log records one page of GET logs holds in memory: a
// page ends early (with a next_cursor) once its records reach it. The record limit alone
// (10,000) let one page hold 10,000 bodies of up to 256 KiB each, 2.5 GB, and a few
// concurrent queries took gigabytes (issue 18). With query.max_concurrent queries at once,
// the API's pages take at most about that many times this budget.
const maxPageBytes = 16 << 20

// recordBytes estimates the memory of a record in a page: its strings, attributes and
// resource (their keys and string values, 8 bytes per other value).
func recordBytes(rec store.LogRecord) int {
	return len(rec.Body) + len(rec.SeverityText) + len(rec.Service) + len(rec.ScopeName) + len(rec.Cursor) +
		valueBytes(rec.Attributes) + valueBytes(rec.Resource) + 64
}

func valueBytes(v any) int {
	switch v := v.(type) {
	case string:
		return len(v)
	case map[string]any:
		n := 0
		for k, e := range v {
			n += len(k) + valueBytes(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range v {
			n += valueBytes(e)
		}
		return n
	}
	return 8
}
