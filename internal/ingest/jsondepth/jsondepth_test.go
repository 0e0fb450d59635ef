package jsondepth

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExceeds(t *testing.T) {
	require.False(t, Exceeds([]byte(`{"a":[1,{"b":"[[[[[[["}]}`), 3))
	require.True(t, Exceeds([]byte(`[[[[`), 3))
	require.False(t, Exceeds([]byte(`{"a":"\"[[[[[["}`), 1))
	require.False(t, Exceeds([]byte(`{"a":[1,{"b":2}]}`), 3))
	require.True(t, Exceeds([]byte(`{"a":[1,{"b":[]}]}`), 3))
}

// depth is the nesting of valid JSON, from encoding/json's tokens.
func depth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	d, most := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return most
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			d++
			most = max(most, d)
		case json.Delim('}'), json.Delim(']'):
			d--
		}
	}
}

// FuzzExceeds: on valid JSON, Exceeds agrees with the depth encoding/json sees; on any
// input it does not panic.
func FuzzExceeds(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"[[\"]]"}]}`), 2)
	f.Add([]byte(`[[[[]]]]`), 3)
	f.Add([]byte(`"\\"`), 0)
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		got := Exceeds(b, limit)
		if !json.Valid(b) || limit < 0 {
			return
		}
		if want := depth(b) > limit; got != want {
			t.Fatalf("Exceeds(%q, %d) = %v, want %v", b, limit, got, want)
		}
	})
}
