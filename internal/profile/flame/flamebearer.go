package flame

import "github.com/loupe-dev/loupe/internal/store"

// Flamebearer is a flame graph in the "levels" form Pyroscope's API answers and Grafana's
// flame graph panel reads: one row of numbers per depth, each node as
// [x offset from the end of the previous node of its row, total, self, index in Names].
// Names[0] is the root, "total".
type Flamebearer struct {
	Names   []string
	Levels  [][]int64
	Total   int64
	MaxSelf int64
}

// FlamebearerDiff is the two-sided form of Pyroscope's diff: each node is
// [left offset, left total, left self, right offset, right total, right self, name index],
// each offset from the end of the previous node of the row on the same side.
type FlamebearerDiff struct {
	Names      []string
	Levels     [][]int64
	Total      int64 // left + right, as Pyroscope counts it
	MaxSelf    int64
	LeftTicks  int64
	RightTicks int64
}

// BuildFlamebearer lays out the flame graph of stacks (ordered and limited as in Build)
// in Pyroscope's levels form.
func BuildFlamebearer(stacks []store.StackValue, maxNodes int) *Flamebearer {
	t := buildTree(maxNodes, intern(stacks))
	l := newLayout(1)
	l.walk(t.root, 0, [2]int64{})
	return &Flamebearer{Names: l.names, Levels: l.levels, Total: t.root.vals[0].total, MaxSelf: l.maxSelf}
}

// BuildFlamebearerDiff lays out the diff of left and right (see BuildDiff) in Pyroscope's
// two-sided levels form.
func BuildFlamebearerDiff(left, right []store.StackValue, maxNodes int) *FlamebearerDiff {
	t := buildTree(maxNodes, intern(left, right))
	l := newLayout(2)
	l.walk(t.root, 0, [2]int64{})
	lt, rt := t.root.vals[0].total, t.root.vals[1].total
	return &FlamebearerDiff{Names: l.names, Levels: l.levels, Total: lt + rt, MaxSelf: l.maxSelf, LeftTicks: lt, RightTicks: rt}
}

// layout writes nodes row by row. A pre-order walk reaches the nodes of any one row from
// left to right, so each row's offsets come out in order.
type layout struct {
	sides   int
	names   []string
	index   map[string]int64
	levels  [][]int64
	ends    [][2]int64 // per row and side: where the row's last node ends
	maxSelf int64
}

func newLayout(sides int) *layout {
	return &layout{sides: sides, names: []string{RootName}, index: map[string]int64{RootName: 0}}
}

func (l *layout) name(s string) int64 {
	i, ok := l.index[s]
	if !ok {
		i = int64(len(l.names))
		l.index[s] = i
		l.names = append(l.names, s)
	}
	return i
}

// walk writes n, which starts at x on each side, at row depth, then its children.
func (l *layout) walk(n *tnode, depth int, x [2]int64) {
	if depth == len(l.levels) {
		l.levels = append(l.levels, nil)
		l.ends = append(l.ends, [2]int64{})
	}
	nameIdx := int64(0) // the root is names[0] whatever a function may be called
	if depth > 0 {
		nameIdx = l.name(n.fn.Function)
	}
	for s := 0; s < l.sides; s++ {
		v := n.vals[s]
		l.levels[depth] = append(l.levels[depth], x[s]-l.ends[depth][s], v.total, v.self)
		l.ends[depth][s] = x[s] + v.total
		l.maxSelf = max(l.maxSelf, v.self)
	}
	l.levels[depth] = append(l.levels[depth], nameIdx)
	for _, c := range n.sorted {
		l.walk(c, depth+1, x)
		for s := 0; s < l.sides; s++ {
			x[s] += c.vals[s].total
		}
	}
}
