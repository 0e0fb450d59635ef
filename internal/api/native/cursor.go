package native

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// The API wraps the store's cursor with a checksum. A cursor that was cut short or edited
// by hand is then a 400 naming the cursor parameter, instead of reaching the store and
// failing there as a 500. It is integrity against mistakes, not a security measure.

var errBadCursor = errors.New("not a cursor returned by this API (copy next_cursor exactly, with the same filters)")

// encodeCursor turns a store cursor into the opaque, URL-safe next_cursor.
func encodeCursor(storeCursor string) string {
	b := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE([]byte(storeCursor)))
	return base64.RawURLEncoding.EncodeToString(append(b, storeCursor...))
}

// decodeCursor returns the store cursor inside a next_cursor.
func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 5 {
		return "", errBadCursor
	}
	storeCursor := b[4:]
	if binary.BigEndian.Uint32(b) != crc32.ChecksumIEEE(storeCursor) {
		return "", errBadCursor
	}
	return string(storeCursor), nil
}

// cursor returns the store cursor of the "cursor" parameter, "" when it is absent.
func (p params) cursor() (string, *apiError) {
	c, aerr := p.one("cursor")
	if aerr != nil || c == "" {
		return "", aerr
	}
	storeCursor, err := decodeCursor(c)
	if err != nil {
		return "", badParam("cursor", err)
	}
	return storeCursor, nil
}
