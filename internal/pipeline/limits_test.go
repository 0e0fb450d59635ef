package pipeline

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidUTF8MatchesStandardLibrary(t *testing.T) {
	// Every length around the 8-byte words, with each kind of byte at each position.
	specials := []string{"\x00", "\x7f", "\x80", "\xbf", "\xff", "é", "☃", "😀", "\xe2\x98",
		"\xed\xa0\x80" /* surrogate */, "\xc0\xaf" /* overlong */, "\xf4\x90\x80\x80" /* > U+10FFFF */}
	for n := 0; n <= 24; n++ {
		base := strings.Repeat("a", n)
		if validUTF8(base) != utf8.ValidString(base) {
			t.Fatalf("validUTF8(%q) = %v", base, validUTF8(base))
		}
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				for _, s := range []string{base[:pos] + sp + base[pos:], base[:pos] + sp + base[pos:] + sp} {
					if validUTF8(s) != utf8.ValidString(s) {
						t.Fatalf("validUTF8(%q) = %v", s, validUTF8(s))
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 0x7f, 0x80, 0xbf, 0xc3, 0xa9, 0xe2, 0x98, 0x83, 0xed, 0xf0, 0x9f, 0xf4, 0xff}
	for range 200_000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = 'a' + byte(rng.IntN(26))
			if rng.IntN(4) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		if validUTF8(string(b)) != utf8.ValidString(string(b)) {
			t.Fatalf("validUTF8(%q) = %v", b, validUTF8(string(b)))
		}
	}
}

func FuzzValidUTF8(f *testing.F) {
	f.Add("plain text of some length")
	f.Add("caf\xc3\xa9 \xff")
	f.Fuzz(func(t *testing.T, s string) {
		if validUTF8(s) != utf8.ValidString(s) {
			t.Fatalf("validUTF8(%q) = %v", s, validUTF8(s))
		}
	})
}
