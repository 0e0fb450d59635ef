package duck

import (
	"strings"
)

// Body search index, part 1: trigram Bloom filters.
//
// A needle search (native q, LogQL |=) is a substring test over every body in the time
// range: on 10M records about 0.5 s of decompressing and comparing even on an idle machine.
// To skip most of it, every block of consecutive rows of a logs partition gets a Bloom
// filter of the trigrams (three-byte windows) of its bodies, ASCII letters lowered. A body
// that contains a needle contains every trigram of the needle, so a block whose filter
// lacks one of them cannot match and is not scanned. Trigrams, unlike words, keep the
// substring semantics: a needle may start or end in the middle of a word.
//
// Limits, by construction: needles shorter than three bytes prune nothing, and neither do
// needles made only of trigrams that occur in almost every block (a hex id among hex ids,
// a common word); those searches scan as before. Bodies repeat templates, so a block of
// 32k bodies holds few distinct trigrams (7.8k on the bench corpus), and a small filter
// per block does.

// gramFilterBits is the size of every filter: 16 KiB, about 0.5 B per record with
// 32k-row blocks. Each trigram sets one bit (one hash): filling the filter straight from
// the bodies, in the CPU cache, then costs ~3 ns per body byte (314-394 MB/s on 2.4 MB of
// log-like text); three hashes ran at 118-182 MB/s. By the Bloom filter formula, with the
// 7.8k distinct trigrams of a bench block the filter is 6% full, so a trigram absent from
// a block passes it 6% of the time and a needle with three absent ones 0.02%; with 30k
// (varied logs) 20% and 0.8%.
const gramFilterBits = 1 << 17

// lowerASCII lowers A-Z and leaves every other byte alone.
func lowerASCII(c byte) byte {
	if c-'A' < 26 {
		return c + 'a' - 'A'
	}
	return c
}

// gramFilter is a Bloom filter of trigrams, ASCII letters lowered.
type gramFilter []byte

func newGramFilter() gramFilter { return make(gramFilter, gramFilterBits/8) }

// add adds the trigrams of body. When body has non-ASCII bytes it also adds those of
// strings.ToLower(body): the native search compares against DuckDB's lower(), which
// could fold a non-ASCII letter into an ASCII one that a needle may use. (Go's and
// DuckDB's lower() agree on every letter whose lower case has an ASCII byte, checked up to
// U+20000, so this covers DuckDB's folding.)
func (f gramFilter) add(body string) {
	if !f.addBytes(body) {
		if l := strings.ToLower(body); l != body {
			f.addBytes(l)
		}
	}
}

// addBytes adds the trigrams of s with ASCII letters lowered and reports whether s is
// all ASCII.
func (f gramFilter) addBytes(s string) bool {
	var any8 byte
	var k uint32
	mask := uint32(len(f)*8 - 1)
	for i := 0; i < len(s); i++ {
		c := s[i]
		any8 |= c
		k = (k<<8 | uint32(lowerASCII(c))) & 0xFFFFFF
		if i >= 2 {
			p := gramHash(k) & mask
			f[p>>3] |= 1 << (p & 7)
		}
	}
	return any8 < 0x80
}

// gramHash spreads trigram k over the filter's bits (Fibonacci hashing: the high bits of
// a multiply by 2^64/φ).
func gramHash(k uint32) uint32 {
	return uint32((uint64(k) * 0x9E3779B97F4A7C15) >> 40)
}

// bloomHas reports whether filter f may hold trigram k (false means surely not).
func bloomHas(f []byte, k uint32) bool {
	m := uint32(len(f) * 8)
	if m == 0 || m&(m-1) != 0 || m > 1<<24 {
		return true // not a filter this code wrote: assume anything
	}
	p := gramHash(k) & (m - 1)
	return f[p>>3]&(1<<(p&7)) != 0
}

// needleGrams returns the trigrams that every body containing needle has in its filter:
// the windows of the needle, ASCII letters lowered, made only of ASCII bytes (a non-ASCII
// byte could be lowered differently by DuckDB and Go). Nil when there are none.
func needleGrams(needle string) []uint32 {
	var out []uint32
	for i := 0; i+3 <= len(needle); i++ {
		a, b, c := needle[i], needle[i+1], needle[i+2]
		if a|b|c >= 0x80 {
			continue
		}
		out = append(out, uint32(lowerASCII(a))<<16|uint32(lowerASCII(b))<<8|uint32(lowerASCII(c)))
	}
	return out
}

// bloomHasAll reports whether filter f may hold every trigram of grams.
func bloomHasAll(f []byte, grams []uint32) bool {
	for _, k := range grams {
		if !bloomHas(f, k) {
			return false
		}
	}
	return true
}

// bodyNeedles is what a filter asks of a body, for the index: every group must match, and
// a group matches when the body contains any one of its needles.
type bodyNeedles [][]string

// blockMayMatch reports whether a block with filter f may hold a body satisfying the
// needles whose trigrams are grams (see bodyNeedles.grams).
func blockMayMatch(f []byte, grams [][][]uint32) bool {
	for _, group := range grams {
		ok := false
		for _, g := range group {
			if bloomHasAll(f, g) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// grams returns the trigrams of each needle, dropping the groups that cannot prune
// (a needle without trigrams matches every block). Nil when nothing can prune.
func (n bodyNeedles) grams() [][][]uint32 {
	var out [][][]uint32
	for _, group := range n {
		gs := make([][]uint32, 0, len(group))
		prunes := len(group) > 0
		for _, needle := range group {
			g := needleGrams(needle)
			if len(g) == 0 {
				prunes = false
				break
			}
			gs = append(gs, g)
		}
		if prunes {
			out = append(out, gs)
		}
	}
	return out
}
