package duck

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Term index, part 1: a per-block Bloom filter of terms (log_term_index), beside the trigram
// filters of grams.go. Trigrams cannot narrow a search for digits or hex (a block of
// 32k records holds every digit and hex trigram) nor an attribute equality; whole terms
// can. Term blocks are smaller than the trigram blocks (termBlockRows): a rare value
// costs a read of every block holding it, and the size of a Bloom filter follows its
// entries, which grow only ~17% per record from 32,768-row to 4,096-row blocks (most
// terms are ids, in one record each). A block's filter holds:
//
//   - every token of its bodies (maximal runs of ASCII letters, digits and non-ASCII
//     bytes, ASCII letters lowered), tagged 'w';
//   - the first termPrefix bytes of every token at least that long, tagged 'p', so that
//     a needle's last token, which may be the start of a longer body token, prunes with
//     one lookup. Six bytes, not five: neighbouring ids share five (u-054321 and
//     u-054329), and with five the rare token of the bench matched most blocks;
//   - every key=value of the records' attributes and of their resources, tagged 'a',
//     the key reduced to its ASCII letters and digits so that LogQL's sanitized
//     label names find the same entry as the native API's keys. Values whose text a
//     filter may spell otherwise (doubles, bytes, arrays, maps, strings stored as JSON)
//     are entered as "key has such a value" instead, which every filter on that key
//     passes. Those keys are kept in an exact list beside the Bloom filter, not as
//     Bloom entries, so that an equality costs one Bloom lookup and its false positives.
//
// The search stays a substring search: a needle token is looked up only when the needle
// shows where it starts (a separator before it), as a whole token when it also shows
// where it ends; tokens at the needle's open ends are left to the trigrams. So `o-1000135`
// prunes by `1000135` (a whole token or the start of one), a single hex id (which could sit
// inside a longer token) does not.
//
// Sizing: the writer fills a filter of termMaxBits with termProbes bits per term and then
// halves it (OR of its halves, which a power-of-two Bloom filter allows) while at most
// termMaxFill of the bits would be set; six probes at that fill pass an absent term
// with probability ~0.4% (0.4^6). On the bench corpus a 4,096-row block (~17k terms)
// stays at 2^18 bits (fill ~0.32, ~0.1% per lookup): 8 B per record. With three probes
// (log_term_blocks, until 2026-12-07) the same filters had fill ~0.19 and passed ~0.6% of
// absent terms: of the 30 blocks a rare token read on 10M records, 25 were false
// positives, and a block read costs DuckDB ~1-2 ms of CPU whatever its size (one
// UNION ALL branch per rowid range, see rangesSource; on a 4M-row table 50 ranges of
// 2,048 rows took 93-109 ms of CPU, the rows themselves ~0.2 ms per range), so the false
// positives, not the real matches, were most of the time. Six probes cost the writer three more bit
// sets per term; six is about the optimum (ln 2 times the ~15 bits per term) for this
// size. At 2^17 bits (4 B per record) the fill would be ~0.54.
//
// Layout (stored in log_term_index): the Bloom filter's bytes (a power of two), then
// the hashes of the keys with values entered as anyValue (8 bytes each, little-endian),
// then one byte counting them; termAnyKeysAll instead of a count says "too many to
// list: any key may have any value".

const (
	termBlockRows  = 4096
	termMaxBits    = 1 << 19 // 64 KiB while building
	termMinBits    = 1 << 12
	termMaxFill    = 0.4
	termProbes     = 6
	termPrefix     = 6
	termMaxAnyKeys = 64
	termAnyKeysAll = 255
)

// termFilter is a Bloom filter of terms being built.
type termFilter struct {
	bits    []uint64
	res     map[int64]bool  // resources whose attributes are in the filter
	anyKeys map[uint64]bool // attrHash(key, anyValue) of keys with such values
}

func newTermFilter() *termFilter {
	return &termFilter{bits: make([]uint64, termMaxBits/64), res: map[int64]bool{}, anyKeys: map[uint64]bool{}}
}

// addHash sets the probes of term hash h.
func (f *termFilter) addHash(h uint64) {
	mask := uint64(len(f.bits)*64 - 1)
	h1, h2 := h, h>>32|1
	for i := uint64(0); i < termProbes; i++ {
		p := (h1 + i*h2) & mask
		f.bits[p>>6] |= 1 << (p & 63)
	}
}

// splitTermFilter returns the Bloom filter and the list of keys with any value of a
// stored filter; all reports that any key may have any value (too many to list, or not
// a layout this code wrote).
func splitTermFilter(f []byte) (bloom []byte, anyKeys []byte, all bool) {
	if len(f) == 0 {
		return nil, nil, true
	}
	n := int(f[len(f)-1])
	if n == termAnyKeysAll {
		return f[:len(f)-1], nil, true
	}
	if len(f)-1 < 8*n {
		return nil, nil, true
	}
	cut := len(f) - 1 - 8*n
	return f[:cut], f[cut : len(f)-1], false
}

// listHas reports whether keys (8-byte little-endian hashes) holds h.
func listHas(keys []byte, h uint64) bool {
	for i := 0; i+8 <= len(keys); i += 8 {
		if binary.LittleEndian.Uint64(keys[i:]) == h {
			return true
		}
	}
	return false
}

// bloomHasHash reports whether Bloom filter f may hold term hash h.
func bloomHasHash(f []byte, h uint64) bool {
	m := uint64(len(f)) * 8
	if m < 64 || m&(m-1) != 0 {
		return true // not a filter this code wrote: assume anything
	}
	h1, h2 := h, h>>32|1
	for i := uint64(0); i < termProbes; i++ {
		p := (h1 + i*h2) & (m - 1)
		if f[p>>3]&(1<<(p&7)) == 0 {
			return false
		}
	}
	return true
}

// bytes returns the filter halved while its fill allows, as little-endian bytes (the
// stored layout, read back by the term-block lookups).
func (f *termFilter) bytes() []byte {
	b := f.bits
	set := 0
	for _, w := range b {
		set += bits.OnesCount64(w)
	}
	for len(b)*64 > termMinBits {
		half := len(b) / 2
		folded := 0
		for i := 0; i < half; i++ {
			folded += bits.OnesCount64(b[i] | b[i+half])
		}
		if float64(folded) > termMaxFill*float64(half*64) {
			break
		}
		nb := make([]uint64, half)
		for i := range nb {
			nb[i] = b[i] | b[i+half]
		}
		b = nb
	}
	out := make([]byte, len(b)*8, len(b)*8+8*len(f.anyKeys)+1)
	for i, w := range b {
		for j := 0; j < 8; j++ {
			out[i*8+j] = byte(w >> (8 * j))
		}
	}
	if len(f.anyKeys) > termMaxAnyKeys {
		return append(out, termAnyKeysAll)
	}
	keys := make([]uint64, 0, len(f.anyKeys))
	for h := range f.anyKeys {
		keys = append(keys, h)
	}
	slices.Sort(keys) // the same rows give the same bytes
	for _, h := range keys {
		out = binary.LittleEndian.AppendUint64(out, h)
	}
	return append(out, byte(len(keys)))
}

// Term hashing: FNV-1a over a tag byte and the term, then a 64-bit finalizer (the
// filter's probes use both halves). Stable across processes: filters are stored.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// tokenHash hashes a token (tag 'w') or a token prefix (tag 'p') with ASCII letters
// lowered.
func tokenHash(tag byte, tok string) uint64 {
	h := uint64(fnvOffset)
	h = (h ^ uint64(tag)) * fnvPrime
	for i := 0; i < len(tok); i++ {
		h = (h ^ uint64(lowerASCII(tok[i]))) * fnvPrime
	}
	return mix64(h)
}

// anyValue stands for "some value this index does not spell out" in attrHash.
const anyValue = "\xff"

// attrHash hashes the pair key=value (tag 'a'), the key reduced to its ASCII letters
// and digits (which LogQL's sanitizing keeps).
func attrHash(key, value string) uint64 {
	h := attrKeyHash(key)
	for i := 0; i < len(value); i++ {
		h = (h ^ uint64(value[i])) * fnvPrime
	}
	return mix64(h)
}

func attrHashBytes(key string, value []byte) uint64 {
	h := attrKeyHash(key)
	for _, c := range value {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return mix64(h)
}

// attrKeyHash is the unfinished hash of a pair's tag, key and separator.
func attrKeyHash(key string) uint64 {
	h := uint64(fnvOffset)
	h = (h ^ 'a') * fnvPrime
	for i := 0; i < len(key); i++ {
		if c := key[i]; isAlnum(c) {
			h = (h ^ uint64(c)) * fnvPrime
		}
	}
	return h * fnvPrime // a 0 separator byte mixed in: h ^ 0 is h
}

func isAlnum(c byte) bool { return c-'a' < 26 || c-'A' < 26 || c-'0' < 10 }

// isTokenByte reports whether c belongs to a token: ASCII letters and digits, and every
// non-ASCII byte (lower() may change those, so needles keep away from them).
func isTokenByte(c byte) bool { return c >= 0x80 || isAlnum(c) }

// addBody adds the tokens and token prefixes of body; like gramFilter.add, also those of
// its lower case when it has non-ASCII bytes.
func (f *termFilter) addBody(body string) {
	if !f.addTokens(body) {
		if l := strings.ToLower(body); l != body {
			f.addTokens(l)
		}
	}
}

// addTokens adds the tokens of s and reports whether s is all ASCII.
func (f *termFilter) addTokens(s string) bool {
	ascii := true
	for i := 0; i < len(s); {
		if !isTokenByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isTokenByte(s[j]) {
			if s[j] >= 0x80 {
				ascii = false
			}
			j++
		}
		tok := s[i:j]
		f.addHash(tokenHash('w', tok))
		if len(tok) >= termPrefix {
			f.addHash(tokenHash('p', tok[:termPrefix]))
		}
		i = j
	}
	return ascii
}

// addAttrs adds the key=value pairs of m.
func (f *termFilter) addAttrs(m pcommon.Map) {
	var buf [24]byte
	m.Range(func(k string, v pcommon.Value) bool {
		if v.Type() == pcommon.ValueTypeInt {
			// As attrTermValue, without allocating the text.
			f.addHash(attrHashBytes(k, strconv.AppendInt(buf[:0], v.Int(), 10)))
		} else if tv := attrTermValue(v); tv == anyValue {
			f.anyKeys[attrHash(k, anyValue)] = true
		} else {
			f.addHash(attrHash(k, tv))
		}
		return true
	})
}

// addResource adds the attributes of resource id once per filter.
func (f *termFilter) addResource(id int64, m pcommon.Map) {
	if f.res[id] {
		return
	}
	f.res[id] = true
	f.addAttrs(m)
}

// attrTermValue is the text under which v is entered: the text every filter compares
// for strings, ints and bools (the native API's stored text and json_extract_string,
// LogQL's label value), anyValue for the rest.
func attrTermValue(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if s := v.Str(); plainText(s) && s != anyValue {
			return s
		}
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10)
	case pcommon.ValueTypeBool:
		return strconv.FormatBool(v.Bool())
	}
	return anyValue
}

// termLookup is one hash to look up: in the Bloom filter, or, for anyKey, in the list of
// keys with any value (attrHash(key, anyValue)).
type termLookup struct {
	h      uint64
	anyKey bool
}

// termAny matches when the filter may hold any one of its lookups.
type termAny []termLookup

// termQuery is what a query asks of a block's terms: every clause must match; a clause
// matches when one of its conjunctions does, a conjunction when all its termAny do.
type termQuery [][][]termAny

func (q termQuery) mayMatch(f []byte) bool {
	for _, clause := range q {
		ok := false
		for _, conj := range clause {
			if conjMatches(f, conj) {
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

func conjMatches(f []byte, conj []termAny) bool {
	bloom, keys, all := splitTermFilter(f)
	for _, any := range conj {
		hit := false
		for _, l := range any {
			if l.anyKey && (all || listHas(keys, l.h)) || !l.anyKey && bloomHasHash(bloom, l.h) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// needleTerms returns what a body containing needle (compared with ASCII letters lowered)
// must have among its terms: each token of the needle with a separator before it, as a
// whole token when a separator follows it too, else as a whole token or a token starting
// with it. Tokens with non-ASCII bytes, and tokens at an open end, add nothing. Nil when
// the needle has no such token.
func needleTerms(needle string) []termAny {
	var out []termAny
	for i := 0; i < len(needle); {
		if !isTokenByte(needle[i]) {
			i++
			continue
		}
		j, ascii := i, true
		for j < len(needle) && isTokenByte(needle[j]) {
			if needle[j] >= 0x80 {
				ascii = false
			}
			j++
		}
		tok, startKnown, endKnown := needle[i:j], i > 0, j < len(needle)
		i = j
		switch {
		case !ascii || !startKnown:
		case endKnown:
			out = append(out, termAny{{h: tokenHash('w', tok)}})
		case len(tok) >= termPrefix:
			// A body token starting with tok is at least termPrefix long, so it has
			// tok's first termPrefix bytes as its prefix entry.
			out = append(out, termAny{{h: tokenHash('p', tok[:termPrefix])}})
		}
	}
	return out
}

// bodyTerms adds the needles' clauses to q: a group of needles (any one must be in the
// body) prunes only when every needle of it has terms.
func (q termQuery) bodyTerms(n bodyNeedles) termQuery {
	for _, group := range n {
		clause := make([][]termAny, 0, len(group))
		for _, needle := range group {
			t := needleTerms(needle)
			if len(t) == 0 {
				clause = nil
				break
			}
			clause = append(clause, t)
		}
		if len(clause) > 0 {
			q = append(q, clause)
		}
	}
	return q
}

// attrTerm adds the clause of an equality filter key=value on record or resource
// attributes (key as the native API or LogQL names it; see attrHash). An
// empty value also matches records without the key, so it does not prune.
func (q termQuery) attrTerm(key, value string) termQuery {
	if value == "" {
		return q
	}
	return append(q, [][]termAny{{termAny{{h: attrHash(key, value)}, {h: attrHash(key, anyValue), anyKey: true}}}})
}
