package flame

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/loupe-dev/loupe/internal/store"
)

// randomStacks makes n distinct-ish stacks of depth up to 40 over a program of 2,000
// functions, shaped like a service's: a few roots, paths that share their callers.
func randomStacks(n int, seed uint64) []store.StackValue {
	r := rand.New(rand.NewPCG(seed, 1))
	fns := make([]store.Frame, 2000)
	for i := range fns {
		fns[i] = store.Frame{Function: fmt.Sprintf("pkg%d.Func%d", i%50, i), File: fmt.Sprintf("/src/pkg%d/f.go", i%50)}
	}
	out := make([]store.StackValue, n)
	for i := range out {
		depth := 5 + r.IntN(36)
		s := make([]store.Frame, depth)
		f := r.IntN(5) // root
		for d := depth - 1; d >= 0; d-- {
			s[d] = fns[f]
			f = (f*31 + 7 + r.IntN(3+d)) % len(fns) // few callees per caller near the root
		}
		out[i] = store.StackValue{Stack: s, Value: int64(1 + r.IntN(1000)*1e7)}
	}
	return out
}

// BenchmarkBuild: the tree and top table of 50,000 distinct stacks (the same order as the
// 72,129 of the day of profiles measured in docs/profiles.md, Storage and retention),
// limited to 2,048 nodes as the API does by default.
func BenchmarkBuild(b *testing.B) {
	stacks := randomStacks(50000, 1)
	b.ReportAllocs()
	for b.Loop() {
		Build(stacks, 2048)
	}
}

func BenchmarkFlamebearer(b *testing.B) {
	stacks := randomStacks(50000, 1)
	b.ReportAllocs()
	for b.Loop() {
		BuildFlamebearer(stacks, 8192)
	}
}

// TestBuildInvariants: on random stacks, the root is the sum of the values, every node's
// total is its self plus its children's totals, a limit keeps at most that many nodes
// (plus the "(other)" ones), and no function's total exceeds the root's.
func TestBuildInvariants(t *testing.T) {
	for seed := range uint64(5) {
		stacks := randomStacks(3000, seed)
		var sum int64
		for _, s := range stacks {
			sum += s.Value
		}
		for _, limit := range []int{0, 1, 50, 2048} {
			g := Build(stacks, limit)
			if g.Total != sum || g.Root.Total != sum {
				t.Fatalf("seed %d limit %d: total %d, want %d", seed, limit, g.Total, sum)
			}
			kept := 0
			var walk func(n *Node)
			walk = func(n *Node) {
				c := n.Self
				for _, ch := range n.Children {
					c += ch.Total
					if ch.Name != OtherName {
						kept++
					}
					walk(ch)
				}
				if c != n.Total {
					t.Fatalf("seed %d limit %d: %s total %d != self+children %d", seed, limit, n.Name, n.Total, c)
				}
			}
			walk(g.Root)
			if limit > 0 && kept > limit {
				t.Fatalf("seed %d limit %d: %d nodes kept", seed, limit, kept)
			}
			for _, r := range g.Top {
				if r.Total > sum || r.Self > r.Total {
					t.Fatalf("seed %d: top row %+v beyond total %d", seed, r, sum)
				}
			}
		}
	}
}
