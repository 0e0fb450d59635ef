package duck

import (
	"context"
	"strconv"
	"strings"
)

// SQL pieces shared by the code of the plain tables (runs, error events and issues):
// placeholders, page sizes and cursors, one-column queries. Their WHERE clauses use where
// (filter.go).

// placeholderRows is n rows of width placeholders: "(?, ?), (?, ?)" for n = 2, width 2.
// One row of n is an IN list: "IN " + placeholderRows(1, n).
func placeholderRows(n, width int) string {
	row := "(" + strings.Repeat("?, ", width-1) + "?)"
	return strings.Repeat(row+", ", n-1) + row
}

// queryStrings runs a query of one string column and returns its values.
func queryStrings(ctx context.Context, q sqlRunner, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// pageLimit is a page size asked for: def when not positive, at most max.
func pageLimit(limit, def, max int) int {
	if limit <= 0 {
		limit = def
	}
	return min(limit, max)
}

// A page cursor is the sort key and id of the last row of a page: "<key>:<id>". The next
// page holds the rows after it in (key, id) descending order.
func pageCursor(key int64, id string) string {
	return strconv.FormatInt(key, 10) + ":" + id
}

// parsePageCursor reads a pageCursor; ok is false when c is not one.
func parsePageCursor(c string) (key int64, id string, ok bool) {
	k, id, found := strings.Cut(c, ":")
	key, err := strconv.ParseInt(k, 10, 64)
	return key, id, found && err == nil && id != ""
}
