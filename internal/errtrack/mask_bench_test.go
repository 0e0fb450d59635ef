package errtrack

import (
	"strings"
	"testing"
)

// BenchmarkMaskDottedNumbers masks 4 KiB of "1.1.1.1..." (no '@'): MaskMessage against
// the pattern with the e-mail alternative, which it uses only for messages with an '@'
// (the figures in mask.go's comment).
func BenchmarkMaskDottedNumbers(b *testing.B) {
	s := strings.Repeat("1.", 2048)
	b.Run("MaskMessage", func(b *testing.B) {
		for b.Loop() {
			_ = MaskMessage(s)
		}
	})
	b.Run("with-email-pattern", func(b *testing.B) {
		for b.Loop() {
			_ = maskPattern.FindAllStringSubmatchIndex(s, -1)
		}
	})
}
