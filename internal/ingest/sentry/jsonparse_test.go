package sentry

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/ingest/jsondepth"
)

// checkLikeEncodingJSON fails when parseJSON and encoding/json's Unmarshal into an `any`
// disagree on b: both must refuse it, or both give the same value.
func checkLikeEncodingJSON(t *testing.T, b []byte) {
	t.Helper()
	var want any
	wantErr := json.Unmarshal(b, &want)
	got, err := parseJSON(b)
	if wantErr != nil {
		require.NotNil(t, err, "encoding/json refused %q (%v), parseJSON gave %#v", b, wantErr, got)
		return
	}
	require.Nil(t, err, "encoding/json took %q, parseJSON refused it", b)
	require.True(t, reflect.DeepEqual(want, got), "%q: encoding/json %#v, parseJSON %#v", b, want, got)
}

func TestParseJSONLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e3`, `-12.25E-2`, `true`, `false`, `null`, ` {"a" : [1, 2, {"b": null}] } `,
		`{"a": 1, "a": 2}`, `"\u00e9\n\t\"\\\/\b\f\r"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00\ud83d"`, `"\ud83dx"`,
		`"\ud83d\u0041"`, "\"caf\xc3\xa9\"", "\"\xff\xfe\"", "\"a\xc3\"", `"é\u0041"`,
		// refused
		``, ` `, `{`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `tru`, `nul`,
		`"abc`, "\"a\x01b\"", `"\x"`, `"\u12"`, `"\u12G4"`, `"\ud83d\uZZZZ"`, `1 2`, `{} x`, `1e400`, `-1e400`, `[1 2]`, `NaN`,
	} {
		checkLikeEncodingJSON(t, []byte(s))
	}
	body, err := os.ReadFile("testdata/python-event.json")
	require.NoError(t, err)
	checkLikeEncodingJSON(t, body)
}

func TestParseJSONErrorOffset(t *testing.T) {
	_, err := parseJSON([]byte(`{"message": oops}`))
	require.NotNil(t, err)
	require.Equal(t, 12, err.Offset)
	_, derr := decodeObject([]byte(`{"message": oops}`))
	require.EqualError(t, derr, `invalid JSON at byte 12: invalid character 'o' looking for beginning of value`)
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, -2.5e3, "x\u00e9", true, null, {"b": {}}]}`, `"\ud83d\ude00"`, "\"\xff\"", `[1,]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if jsondepth.Exceeds(b, maxJSONDepth) {
			return
		}
		checkLikeEncodingJSON(t, b)
	})
}
