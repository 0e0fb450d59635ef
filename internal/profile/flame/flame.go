// Package flame turns merged profile stacks (store.StackValue) into what the profile APIs
// answer: a flame graph tree, a top-functions table, the diff of two selections and a pprof
// file. It is pure computation over the stacks a store returns, so the native API, the
// Pyroscope-compatible API and the tests share one implementation.
package flame

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"

	"github.com/loupe-dev/loupe/internal/store"
)

// OtherName is the node that stands for the children folded away by a node limit.
const OtherName = "(other)"

// RootName is the name of the tree's root, whose total is the whole selection.
const RootName = "total"

// MaxTopRows bounds the top table: beyond a few hundred functions nobody reads it, and a
// big program's profile can name many more.
const MaxTopRows = 500

// Node is one function in one call path of a flame graph. Children are its callees.
type Node struct {
	Name     string  `json:"name"`
	File     string  `json:"file,omitempty"`
	Self     int64   `json:"self"`
	Total    int64   `json:"total"`
	Children []*Node `json:"children,omitempty"`
}

// TopRow is one function of the top table. Total counts each stack once even when the
// function appears in it several times (recursion), so it never exceeds the graph's total.
type TopRow struct {
	Function string `json:"function"`
	File     string `json:"file,omitempty"`
	Self     int64  `json:"self"`
	Total    int64  `json:"total"`
}

// Graph is a merged flame graph with its top table.
type Graph struct {
	Total int64    `json:"total"`
	Root  *Node    `json:"root"`
	Top   []TopRow `json:"top"`
}

// Build makes the flame graph of stacks. The tree is root first (callers above callees),
// children sorted by total, largest first (then by name, so that equal trees print alike).
// maxNodes > 0 keeps the maxNodes largest nodes below the root; the rest of each parent's
// children become one "(other)" child, which does not count against the limit.
func Build(stacks []store.StackValue, maxNodes int) *Graph {
	in := intern(stacks)
	t := buildTree(maxNodes, in)
	g := &Graph{Total: t.root.vals[0].total, Root: t.root.node(), Top: []TopRow{}}
	for _, r := range topRows(in) {
		g.Top = append(g.Top, TopRow{Function: r.fn.Function, File: r.fn.File, Self: r.vals[0].self, Total: r.vals[0].total})
	}
	slices.SortFunc(g.Top, func(a, b TopRow) int {
		return cmp.Or(cmp.Compare(b.Self, a.Self), cmp.Compare(b.Total, a.Total),
			cmp.Compare(a.Function, b.Function), cmp.Compare(a.File, b.File))
	})
	if len(g.Top) > MaxTopRows {
		g.Top = g.Top[:MaxTopRows]
	}
	return g
}

// selfTotal is one side's values of a node or a function.
type selfTotal struct{ self, total int64 }

// tnode is a node while the tree is built; vals holds one side for Build, two for a diff.
type tnode struct {
	fn     store.Frame
	id     uint32 // the node's number in the tree, for its children's keys
	vals   [2]selfTotal
	sorted []*tnode // children; in output order once finish has run
	other  *tnode   // folded children, set by finish
	depth  int
	seq    int  // position in a pre-order walk of the sorted tree: the last tie-break
	keep   bool // within the node limit
}

// A node's child is found by the parent's number and the function's id (childKey), in
// one map for the whole tree rather than one per node: a merged day has tens of thousands
// of distinct stacks (docs/profiles.md), so many nodes, and a map per node would be
// mostly maps of one or two children.
func childKey(parent *tnode, fn int32) uint64 { return uint64(parent.id)<<32 | uint64(uint32(fn)) }

type tree struct {
	root     *tnode
	children map[uint64]*tnode
	nodes    uint32
	slab     []tnode // nodes are allocated from here, a chunk at a time, to spare the GC
}

// buildTree adds the stacks of in and finishes the tree with the node limit.
func buildTree(maxNodes int, in *stacks) *tree {
	t := &tree{root: &tnode{fn: store.Frame{Function: RootName}}, children: map[uint64]*tnode{}}
	for i := range in.values {
		t.add(in, in.stack(i), in.values[i], int(in.sides[i]))
	}
	t.finish(maxNodes)
	return t
}

func (t *tree) newNode(fn store.Frame, depth int) *tnode {
	if len(t.slab) == 0 {
		t.slab = make([]tnode, 4096)
	}
	n := &t.slab[0]
	t.slab = t.slab[1:]
	t.nodes++
	n.fn, n.depth, n.id = fn, depth, t.nodes
	return n
}

// add adds one leaf-first stack's value to side.
func (t *tree) add(in *stacks, stack []int32, v int64, side int) {
	n := t.root
	n.vals[side].total += v
	for i := len(stack) - 1; i >= 0; i-- {
		k := childKey(n, stack[i])
		c := t.children[k]
		if c == nil {
			c = t.newNode(in.frames[stack[i]], n.depth+1)
			t.children[k] = c
			n.sorted = append(n.sorted, c)
		}
		c.vals[side].total += v
		n = c
	}
	n.vals[side].self += v
}

// weight orders nodes: the sum of both sides (a diff shows what is big on either side).
func (n *tnode) weight() int64 { return n.vals[0].total + n.vals[1].total }

// order sorts nodes by weight, largest first, then callers before callees (a parent
// weighs at least as much as its child, so a limit never keeps a child without its
// parent), then by name, then by position in the tree.
func order(a, b *tnode) int {
	if c := cmp.Compare(b.weight(), a.weight()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.depth, b.depth); c != 0 {
		return c
	}
	if c := strings.Compare(a.fn.Function, b.fn.Function); c != 0 {
		return c
	}
	if c := strings.Compare(a.fn.File, b.fn.File); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// finish sorts every node's children and applies the node limit.
func (t *tree) finish(maxNodes int) {
	t.children = nil // no more adds
	count := 0
	var walk func(n *tnode)
	walk = func(n *tnode) {
		slices.SortFunc(n.sorted, order) // siblings differ by function, so seq is not needed yet
		for _, c := range n.sorted {
			c.seq = count
			count++
			walk(c)
		}
	}
	walk(t.root)
	if maxNodes <= 0 || count <= maxNodes {
		return
	}
	// The maxNodes first nodes in order: a heap whose top is the last of those kept so far.
	kept := make(nodeHeap, 0, maxNodes)
	var pick func(n *tnode)
	pick = func(n *tnode) {
		for _, c := range n.sorted {
			switch {
			case len(kept) < maxNodes:
				heap.Push(&kept, c)
			case order(c, kept[0]) < 0:
				kept[0] = c
				heap.Fix(&kept, 0)
			default:
				// Not kept, nor are its callees: none weighs more than it does.
				continue
			}
			pick(c)
		}
	}
	pick(t.root)
	for _, n := range kept {
		n.keep = true
	}
	var fold func(n *tnode)
	fold = func(n *tnode) {
		kept := n.sorted[:0]
		for _, c := range n.sorted {
			if c.keep {
				kept = append(kept, c)
				fold(c)
				continue
			}
			if n.other == nil {
				n.other = &tnode{fn: store.Frame{Function: OtherName}, depth: n.depth + 1}
			}
			for s := range c.vals {
				n.other.vals[s].total += c.vals[s].total
				n.other.vals[s].self += c.vals[s].total // a leaf: all of it is its own
			}
		}
		n.sorted = kept
		if n.other != nil {
			// "(other)" goes among its siblings by its weight, like any node.
			n.sorted = append(n.sorted, n.other)
			slices.SortStableFunc(n.sorted, func(a, b *tnode) int { return cmp.Compare(b.weight(), a.weight()) })
		}
	}
	fold(t.root)
}

// nodeHeap is a heap whose top is the last node in order.
type nodeHeap []*tnode

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return order(h[i], h[j]) > 0 }
func (h nodeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)        { *h = append(*h, x.(*tnode)) }
func (h *nodeHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// node converts the first side of the tree to Nodes.
func (n *tnode) node() *Node {
	out := &Node{Name: n.fn.Function, File: n.fn.File, Self: n.vals[0].self, Total: n.vals[0].total}
	for _, c := range n.sorted {
		out.Children = append(out.Children, c.node())
	}
	return out
}

// fnRow is one function's values in the top table.
type fnRow struct {
	fn   store.Frame
	vals [2]selfTotal
}

// topRows sums self and total per function over the stacks of in, per side. A function's
// total takes each stack once, however often the function recurs in it.
func topRows(in *stacks) []*fnRow {
	rows := make([]fnRow, len(in.frames))
	// last[id] is 1 + the last stack counted in the total of function id.
	last := make([]int, len(in.frames))
	for i, v := range in.values {
		stack := in.stack(i)
		if len(stack) == 0 {
			continue
		}
		side := in.sides[i]
		rows[stack[0]].vals[side].self += v
		for _, id := range stack {
			if last[id] != i+1 {
				last[id] = i + 1
				rows[id].vals[side].total += v
			}
		}
	}
	out := make([]*fnRow, 0, len(rows))
	for id := range rows {
		if last[id] != 0 { // in some stack
			rows[id].fn = in.frames[id]
			out = append(out, &rows[id])
		}
	}
	return out
}
