package chlogs

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chattrs"
)

// Attribute maps (record and resource) are stored as chattrs describes: a map of string
// forms plus a string of type letters, the same as chspans, so filters answer the same on
// every backend.

// bodyText is a record body as stored and returned: strings as they are, other values as
// typed JSON (chattrs), an empty body as "".
func bodyText(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeEmpty:
		return ""
	}
	return string(chattrs.AppendValueJSON(nil, v))
}
