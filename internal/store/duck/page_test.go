package duck

import "testing"

// Any text either is a page cursor or is refused; a cursor made by pageCursor reads back.
func FuzzPageCursor(f *testing.F) {
	for _, c := range []string{"12:abc", "-1:x", ":x", "12:", "nope", "1:2:3"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c string) {
		key, id, ok := parsePageCursor(c)
		if !ok {
			return
		}
		if k2, id2, ok2 := parsePageCursor(pageCursor(key, id)); !ok2 || k2 != key || id2 != id {
			t.Fatalf("%q -> (%d, %q) does not read back: (%d, %q, %v)", c, key, id, k2, id2, ok2)
		}
	})
}
