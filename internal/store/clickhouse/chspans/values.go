package chspans

import (
	"encoding/hex"
	"fmt"
)

// Attribute maps are stored as chattrs describes (string forms plus type letters); scope
// attributes, events and links as its typed JSON.

// decodeHex fills dst from lowercase or uppercase hex of exactly its length.
func decodeHex(s string, dst []byte) error {
	if hex.DecodedLen(len(s)) != len(dst) {
		return fmt.Errorf("bad id %q", s)
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("bad id %q: %w", s, err)
	}
	return nil
}
