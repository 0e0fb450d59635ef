package flame

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

// stack builds a leaf-first stack from names given root first, as one reads a flame graph.
func stack(v int64, rootFirst ...string) store.StackValue {
	s := store.StackValue{Value: v}
	for i := len(rootFirst) - 1; i >= 0; i-- {
		s.Stack = append(s.Stack, store.Frame{Function: rootFirst[i], File: rootFirst[i] + ".go"})
	}
	return s
}

// testStacks: a→b→c 5, a→b 2, a→d 3, a 1, e 4, and the recursion f→g→f 6. Total 21.
func testStacks() []store.StackValue {
	return []store.StackValue{
		stack(5, "a", "b", "c"),
		stack(2, "a", "b"),
		stack(3, "a", "d"),
		stack(1, "a"),
		stack(4, "e"),
		stack(6, "f", "g", "f"),
	}
}

// render prints a tree one node a line, indented by depth: "name self/total".
func render(n *Node) string {
	var b strings.Builder
	var walk func(n *Node, depth int)
	walk = func(n *Node, depth int) {
		b.WriteString(strings.Repeat("  ", depth) + n.Name + " " + itoa(n.Self) + "/" + itoa(n.Total) + "\n")
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

func itoa(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestBuildTree(t *testing.T) {
	g := Build(testStacks(), 0)
	require.EqualValues(t, 21, g.Total)
	require.Equal(t, `total 0/21
  a 1/11
    b 2/7
      c 5/5
    d 3/3
  f 0/6
    g 0/6
      f 6/6
  e 4/4
`, render(g.Root))
	require.Equal(t, "a.go", g.Root.Children[0].File)
}

func TestBuildTop(t *testing.T) {
	g := Build(testStacks(), 0)
	// f recurses (f→g→f): its total counts that stack once, 6, not 12.
	require.Equal(t, []TopRow{
		{Function: "f", File: "f.go", Self: 6, Total: 6},
		{Function: "c", File: "c.go", Self: 5, Total: 5},
		{Function: "e", File: "e.go", Self: 4, Total: 4},
		{Function: "d", File: "d.go", Self: 3, Total: 3},
		{Function: "b", File: "b.go", Self: 2, Total: 7},
		{Function: "a", File: "a.go", Self: 1, Total: 11},
		{Function: "g", File: "g.go", Self: 0, Total: 6},
	}, g.Top)
}

func TestBuildMaxNodes(t *testing.T) {
	// The three largest nodes are a (11), b (7) and the outer f (6, before the deeper g and
	// f of the same total); every other child is folded into its parent's "(other)".
	g := Build(testStacks(), 3)
	require.Equal(t, `total 0/21
  a 1/11
    b 2/7
      (other) 5/5
    (other) 3/3
  f 0/6
    (other) 6/6
  (other) 4/4
`, render(g.Root))
	// The top table is of the whole selection, not of the folded tree.
	require.Len(t, g.Top, 7)

	// A limit at or above the node count changes nothing.
	require.Equal(t, render(Build(testStacks(), 0).Root), render(Build(testStacks(), 8).Root))
}

func TestBuildEmpty(t *testing.T) {
	g := Build(nil, 10)
	require.Equal(t, "total 0/0\n", render(g.Root))
	require.NotNil(t, g.Top)
	b, err := json.Marshal(g)
	require.NoError(t, err)
	require.JSONEq(t, `{"total":0,"root":{"name":"total","self":0,"total":0},"top":[]}`, string(b))
}

func TestBuildMergesSameStacks(t *testing.T) {
	// Stores may return one stack in several rows (per series); the tree sums them.
	g := Build([]store.StackValue{stack(2, "a", "b"), stack(3, "a", "b")}, 0)
	require.Equal(t, "total 0/5\n  a 0/5\n    b 5/5\n", render(g.Root))
}

func TestFlamebearer(t *testing.T) {
	fb := BuildFlamebearer(testStacks(), 0)
	require.Equal(t, []string{"total", "a", "b", "c", "d", "f", "g", "e"}, fb.Names)
	require.EqualValues(t, 21, fb.Total)
	require.EqualValues(t, 6, fb.MaxSelf)
	// [offset from the previous node's end in the row, total, self, name index]
	require.Equal(t, [][]int64{
		{0, 21, 0, 0},
		{0, 11, 1, 1, 0, 6, 0, 5, 0, 4, 4, 7},
		{0, 7, 2, 2, 0, 3, 3, 4, 1, 6, 0, 6},
		{0, 5, 5, 3, 6, 6, 6, 5},
	}, fb.Levels)
}

func TestFlamebearerEmpty(t *testing.T) {
	fb := BuildFlamebearer(nil, 0)
	require.Equal(t, []string{"total"}, fb.Names)
	require.Equal(t, [][]int64{{0, 0, 0, 0}}, fb.Levels)
}

func diffStacks() (left, right []store.StackValue) {
	left = []store.StackValue{stack(5, "a", "b", "c"), stack(5, "a")}
	right = []store.StackValue{stack(5, "a", "b", "c"), stack(10, "a", "x")}
	return left, right
}

func renderDiff(n *DiffNode) string {
	var b strings.Builder
	var walk func(n *DiffNode, depth int)
	walk = func(n *DiffNode, depth int) {
		b.WriteString(strings.Repeat("  ", depth) + n.Name + " " + itoa(n.LeftSelf) + "/" + itoa(n.LeftTotal) +
			" " + itoa(n.RightSelf) + "/" + itoa(n.RightTotal) + "\n")
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

func TestBuildDiff(t *testing.T) {
	l, r := diffStacks()
	d := BuildDiff(l, r, 0)
	require.EqualValues(t, 10, d.LeftTotal)
	require.EqualValues(t, 15, d.RightTotal)
	// b and x weigh 10 each over both sides; equal weights go by name.
	require.Equal(t, `total 0/10 0/15
  a 5/10 0/15
    b 0/5 0/5
      c 5/5 5/5
    x 0/0 10/10
`, renderDiff(d.Root))
	// Sorted by the change of self share: x 0 → 10/15, a 5/10 → 0, c 5/10 → 5/15, b none.
	var names []string
	for _, r := range d.Top {
		names = append(names, r.Function)
	}
	require.Equal(t, []string{"x", "a", "c", "b"}, names)
	require.Equal(t, DiffRow{Function: "x", File: "x.go", RightSelf: 10, RightTotal: 10}, d.Top[0])
}

func TestFlamebearerDiff(t *testing.T) {
	l, r := diffStacks()
	fb := BuildFlamebearerDiff(l, r, 0)
	require.Equal(t, []string{"total", "a", "b", "c", "x"}, fb.Names)
	require.EqualValues(t, 25, fb.Total)
	require.EqualValues(t, 10, fb.LeftTicks)
	require.EqualValues(t, 15, fb.RightTicks)
	require.EqualValues(t, 10, fb.MaxSelf)
	require.Equal(t, [][]int64{
		{0, 10, 0, 0, 15, 0, 0},
		{0, 10, 5, 0, 15, 0, 1},
		{0, 5, 0, 0, 5, 0, 2, 0, 0, 0, 0, 10, 10, 4},
		{0, 5, 5, 0, 5, 5, 3},
	}, fb.Levels)
}
