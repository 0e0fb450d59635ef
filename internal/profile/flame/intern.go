package flame

import (
	"unsafe"

	"github.com/loupe-dev/loupe/internal/store"
)

// stacks is the input of a build with each distinct frame replaced by a dense id, so that
// the tree and the top table key their maps and slices by integers: a merged day has
// tens of thousands of stacks some 30 frames deep (docs/profiles.md), and hashing two
// strings per frame for the tree and twice more for the top table was most of a build.
type stacks struct {
	frames []store.Frame // by id
	ids    []int32       // every stack's frame ids, leaf first, one after the other
	ends   []int         // stack i is ids[ends[i-1]:ends[i]]
	values []int64
	sides  []int8
}

func (s *stacks) stack(i int) []int32 {
	from := 0
	if i > 0 {
		from = s.ends[i-1]
	}
	return s.ids[from:s.ends[i]]
}

// frameAddr identifies a frame by where its strings are. Two frames at the same address
// are equal; equal frames at different addresses are told equal by frameIDs.byName.
type frameAddr struct {
	fn, file       *byte
	fnLen, fileLen int
}

// frameIDs assigns the ids. Most lookups are by address: a store's stacks share one
// copy of each function's strings (the duck store's do: a function is read once per day),
// and a key of two pointers and two lengths hashes faster than the names themselves.
// Content (byName) decides, so frames with strings of their own get the same id too.
type frameIDs struct {
	byAddr map[frameAddr]int32
	byName map[store.Frame]int32
	frames []store.Frame
}

// maxAddrsPerFrame bounds byAddr when frames do not share their strings (each frame
// with strings of its own would add an entry per frame of every stack).
const maxAddrsPerFrame = 8

func (f *frameIDs) id(fr store.Frame) int32 {
	a := frameAddr{unsafe.StringData(fr.Function), unsafe.StringData(fr.File), len(fr.Function), len(fr.File)}
	if id, ok := f.byAddr[a]; ok {
		return id
	}
	id, ok := f.byName[fr]
	if !ok {
		id = int32(len(f.frames))
		f.byName[fr] = id
		f.frames = append(f.frames, fr)
	}
	if len(f.byAddr) < maxAddrsPerFrame*len(f.frames)+1024 {
		f.byAddr[a] = id
	}
	return id
}

// intern converts each side's stacks (one side for a flame graph, left and right for a
// diff).
func intern(sides ...[]store.StackValue) *stacks {
	f := frameIDs{byAddr: map[frameAddr]int32{}, byName: map[store.Frame]int32{}}
	out := &stacks{}
	n, depth := 0, 0
	for _, ss := range sides {
		n += len(ss)
		for _, s := range ss {
			depth += len(s.Stack)
		}
	}
	out.ids = make([]int32, 0, depth)
	out.ends = make([]int, 0, n)
	out.values = make([]int64, 0, n)
	out.sides = make([]int8, 0, n)
	for side, ss := range sides {
		for _, s := range ss {
			for _, fr := range s.Stack {
				out.ids = append(out.ids, f.id(fr))
			}
			out.ends = append(out.ends, len(out.ids))
			out.values = append(out.values, s.Value)
			out.sides = append(out.sides, int8(side))
		}
	}
	out.frames = f.frames
	return out
}
