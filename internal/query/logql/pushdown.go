package logql

import "github.com/loupe-dev/loupe/internal/query/logql/plan"

// attrPushdown returns the label filters `| name="value"` on record attributes that a
// store may use to narrow what it reads (plan.AttrFilter): those before any stage that
// can add, change or drop labels (parsers, label_format, drop/keep, unwrap...), only line
// filters and label filters before them, with a non-empty value, on a name that is no
// stream label of the selected streams and not one the engine fills from elsewhere
// (trace_id, span_id, detected_level, __error__). The stages stay in the pipeline: the
// store only narrows.
func attrPushdown(stages []Stage, keysets map[uint64]map[string]bool) []plan.AttrFilter {
	var out []plan.AttrFilter
	for _, st := range stages {
		switch st := st.(type) {
		case *LineFilter:
		case *LabelFilterStage:
			out = appendAttrEqualities(out, st.Filter, keysets)
		default:
			return out
		}
	}
	return out
}

// appendAttrEqualities appends the pushable equalities that f requires (through `and`).
func appendAttrEqualities(out []plan.AttrFilter, f LabelFilter, keysets map[uint64]map[string]bool) []plan.AttrFilter {
	switch f := f.(type) {
	case *LabelBinary:
		if f.And {
			out = appendAttrEqualities(out, f.Left, keysets)
			out = appendAttrEqualities(out, f.Right, keysets)
		}
	case *LabelCompare:
		if f.Kind != "string" || f.Op != "=" || f.Str == "" {
			return out
		}
		switch f.Name {
		case "trace_id", "span_id", "detected_level", errorLabel, errorDetailsLabel:
			return out
		}
		for _, ks := range keysets {
			if ks[f.Name] {
				return out
			}
		}
		out = append(out, plan.AttrFilter{Name: f.Name, Value: f.Str})
	}
	return out
}
