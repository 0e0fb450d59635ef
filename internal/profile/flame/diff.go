package flame

import (
	"cmp"
	"math"
	"slices"

	"github.com/loupe-dev/loupe/internal/store"
)

// DiffNode is a node of the diff of two selections: each side's self and total.
type DiffNode struct {
	Name       string      `json:"name"`
	File       string      `json:"file,omitempty"`
	LeftSelf   int64       `json:"left_self"`
	LeftTotal  int64       `json:"left_total"`
	RightSelf  int64       `json:"right_self"`
	RightTotal int64       `json:"right_total"`
	Children   []*DiffNode `json:"children,omitempty"`
}

// DiffRow is one function of the diff's top table.
type DiffRow struct {
	Function   string `json:"function"`
	File       string `json:"file,omitempty"`
	LeftSelf   int64  `json:"left_self"`
	LeftTotal  int64  `json:"left_total"`
	RightSelf  int64  `json:"right_self"`
	RightTotal int64  `json:"right_total"`
}

// Diff is the merged tree of two selections. The sides usually differ in size (two time
// ranges, two services), so readers compare each side's share of its own total.
type Diff struct {
	LeftTotal  int64     `json:"left_total"`
	RightTotal int64     `json:"right_total"`
	Root       *DiffNode `json:"root"`
	Top        []DiffRow `json:"top"`
}

// BuildDiff makes the diff of left and right. Nodes are ordered and limited as in Build,
// by the sum of both sides' totals. The top table is sorted by how much the function's
// self share changed (right share minus left share, largest change either way first), so
// the first row is what the change from left to right is about.
func BuildDiff(left, right []store.StackValue, maxNodes int) *Diff {
	in := intern(left, right)
	t := buildTree(maxNodes, in)
	d := &Diff{LeftTotal: t.root.vals[0].total, RightTotal: t.root.vals[1].total, Root: t.root.diffNode(), Top: []DiffRow{}}
	rows := topRows(in)
	change := func(r *fnRow) float64 {
		return math.Abs(share(r.vals[1].self, d.RightTotal) - share(r.vals[0].self, d.LeftTotal))
	}
	slices.SortFunc(rows, func(a, b *fnRow) int {
		return cmp.Or(cmp.Compare(change(b), change(a)),
			cmp.Compare(b.vals[0].self+b.vals[1].self, a.vals[0].self+a.vals[1].self),
			cmp.Compare(a.fn.Function, b.fn.Function), cmp.Compare(a.fn.File, b.fn.File))
	})
	if len(rows) > MaxTopRows {
		rows = rows[:MaxTopRows]
	}
	for _, r := range rows {
		d.Top = append(d.Top, DiffRow{Function: r.fn.Function, File: r.fn.File,
			LeftSelf: r.vals[0].self, LeftTotal: r.vals[0].total, RightSelf: r.vals[1].self, RightTotal: r.vals[1].total})
	}
	return d
}

// share is v's fraction of total, 0 for an empty side.
func share(v, total int64) float64 {
	if total == 0 {
		return 0
	}
	return float64(v) / float64(total)
}

func (n *tnode) diffNode() *DiffNode {
	out := &DiffNode{Name: n.fn.Function, File: n.fn.File,
		LeftSelf: n.vals[0].self, LeftTotal: n.vals[0].total, RightSelf: n.vals[1].self, RightTotal: n.vals[1].total}
	for _, c := range n.sorted {
		out.Children = append(out.Children, c.diffNode())
	}
	return out
}
