package chsql

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// destKinds are the destinations Scan takes (every one some store of
// internal/store/clickhouse passes), and one it refuses.
var destKinds = []func() any{
	func() any { return new(string) }, func() any { return new(bool) },
	func() any { return new(int8) }, func() any { return new(int16) }, func() any { return new(int32) }, func() any { return new(int64) },
	func() any { return new(uint8) }, func() any { return new(uint16) }, func() any { return new(uint32) }, func() any { return new(uint64) },
	func() any { return new(float32) }, func() any { return new(float64) }, func() any { return new(time.Time) },
	func() any { return new([]string) }, func() any { return new([]int64) }, func() any { return new([]uint64) },
	func() any { return new([]float64) }, func() any { return new(map[string]string) }, func() any { return new(struct{}) },
}

// shown prints a scanned value so that NaNs compare equal and nil and empty slices differ.
func shown(p any) string { return fmt.Sprintf("%#v", reflect.ValueOf(p).Elem().Interface()) }

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// compareDecoders reads data with the reference decoder and with JSONRows, and fails
// unless JSONRows reads every row the reference accepts, scanning each value into every
// destination with the same result or the same error. Where the reference refuses the
// input, JSONRows only has to not panic.
func compareDecoders(t testing.TB, data []byte) {
	t.Helper()
	ref, refErr := newRefJSONRows(data)
	got, err := NewJSONRows(data)
	if refErr != nil {
		if err == nil {
			scanAll(got)
		}
		return
	}
	require.NoError(t, err)
	require.Equal(t, ref.Columns(), got.Columns())
	for row := 0; ; row++ {
		if !ref.Next() {
			if ref.Err() != nil {
				scanAll(got)
				return
			}
			require.False(t, got.Next(), "row %d: the reference has no more rows", row)
			require.NoError(t, got.Err())
			return
		}
		require.True(t, got.Next(), "row %d: %v", row, got.Err())
		require.Len(t, got.cur, len(ref.cur))
		for j := range ref.cur {
			for _, kind := range destKinds {
				want, have := kind(), kind()
				wantErr := refScanValue(ref.types[j], ref.cur[j], want)
				haveErr := scanValue(got.types[j], got.cur[j], have)
				require.Equal(t, errText(wantErr), errText(haveErr), "row %d column %d (%s) into %T: %s", row, j, ref.types[j].full, want, got.cur[j])
				if wantErr == nil {
					require.Equal(t, shown(want), shown(have), "row %d column %d (%s) into %T: %s", row, j, ref.types[j].full, want, got.cur[j])
				}
			}
		}
		// Through Scan too, which names the column in its errors.
		dest1, dest2 := make([]any, len(ref.cur)), make([]any, len(ref.cur))
		for j := range dest1 {
			dest1[j], dest2[j] = new(string), new(string)
		}
		require.Equal(t, errText(ref.Scan(dest1...)), errText(got.Scan(dest2...)))
		require.Equal(t, errText(ref.Scan()), errText(got.Scan()))
	}
}

// scanAll reads r to the end, scanning every value into every destination.
func scanAll(r *JSONRows) {
	for r.Next() {
		for j := range r.cur {
			for _, kind := range destKinds {
				d := make([]any, len(r.cur))
				for k := range d {
					d[k] = kind()
				}
				_ = r.Scan(d...)
				_ = scanValue(r.types[j], r.cur[j], kind())
			}
		}
	}
	_ = r.Err()
}

// diffInputs are results in JSONFormat as chDB writes them and variations it could.
var diffInputs = []string{
	chdbOutput,
	// Escapes, unicode, invalid UTF-8, lone and paired surrogates.
	"[\"s\", \"k\"]\n[\"String\", \"Array(String)\"]\n" +
		`["a\"b\\c\/d\b\f\n\r\t\u00e9\u00E9 ☃ \ud83d\ude00 \ud800 \ud800\u0041 \udc00\ud83d", ["\u2028", "", "\\\\", "é"]]` + "\n" +
		"[\"\xff\xfe ok \xe2\x98\", [\"\xc3\"]]\n",
	// NaN and Inf as ClickHouse quotes them, numbers in every JSON form.
	"[\"f\", \"g\", \"a\"]\n[\"Float64\", \"Float32\", \"Array(Float64)\"]\n" +
		`["nan", "inf", ["-inf", "+inf", "-nan", 1e300, -0, 0.5e-3, 1E+2, 3.4028235e38, 1e999]]` + "\n" +
		`[-0.0, 1.5, []]` + "\n" + `["1.5", "0x10", ["Inf", "NaN", "1_0", " 1"]]` + "\n",
	// Integers: limits, quoted, overflowing, negative zero, exponents, leading zeros.
	"[\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\"]\n[\"Int8\", \"Int16\", \"Int32\", \"Int64\", \"UInt8\", \"UInt16\", \"UInt32\", \"UInt64\"]\n" +
		`[-128, -32768, -2147483648, -9223372036854775808, 255, 65535, 4294967295, 18446744073709551615]` + "\n" +
		`[127, 32767, 2147483647, 9223372036854775807, 0, 0, 0, "18446744073709551615"]` + "\n" +
		`[128, 32768, 2147483648, 9223372036854775808, 256, 65536, 4294967296, 18446744073709551616]` + "\n" +
		`[-0, "+1", "007", 1e2, -1, "-0", 1.0, 99999999999999999999]` + "\n" +
		`["\u0031", "", "1 ", 123456789012345678, 1234567890123456789, 12345678901234567890, -123456789012345678, -1234567890123456789]` + "\n",
	// Nulls, empty arrays and maps, nested arrays, repeated map keys, non-string values.
	"[\"a\", \"m\", \"n\", \"s\"]\n[\"Array(Int64)\", \"Map(String, String)\", \"Array(Array(Int64))\", \"Nullable(String)\"]\n" +
		`[[], {}, [[], [1, 2], [-3]], null]` + "\n" +
		`[[1, null], {"k": null, "a\u0000": "\ud83d"}, [[null]], "x"]` + "\n" +
		`[ [ 1 , 2 ] , { "k" : "v" , "k" : "w" } , [ ] , "" ]` + "\n" +
		`[[true], {"k": 1, "k": "x"}, [[1.5]], {"k": "v"}]` + "\n" +
		`[["1", 2], {"k": "x", "k": 1}, [["1"]], ["a"]]` + "\n",
	// Times: zones, precisions, the range ends, dates, bad text.
	"[\"a\", \"b\", \"c\", \"d\", \"e\"]\n[\"DateTime64(9, 'UTC')\", \"DateTime('Europe/Paris')\", \"DateTime64(3, 'Asia/Tokyo')\", \"Date\", \"Date32\"]\n" +
		`["1900-01-01 00:00:00.000000000", "2026-03-29 02:30:00", "2262-04-11 23:47:16.854", "2149-06-06", "1900-01-01"]` + "\n" +
		`["2026-12-07 10:00:00", "2026-12-07 10:00:00.5", "2026-12-07T10:00:00", "2026-12-07 ", "2026-13-01"]` + "\n",
	// Bools, enums, LowCardinality, FixedString.
	"[\"a\", \"b\", \"c\", \"d\"]\n[\"Bool\", \"Enum8('x' = 1, 'y,z' = 2)\", \"LowCardinality(String)\", \"FixedString(2)\"]\n" +
		`[true, "y,z", "lc", "ab"]` + "\n" + `[false, "x", "", "\u0000\u0000"]` + "\n" + `["true", 1, null, 0]` + "\n",
	// Layout: blank lines, CRLF, spaces, text after a row, null rows, no columns.
	"[\"a\"]\n[\"UInt8\"]\n\n  \r\n\t[1]\r\n[2] trailing\n[3],[4]\n \v \n",
	"[]\n[]\nnull\n[]\nnull \n",
	"[\"a\"]\n[\"UInt8\"]\nnull\n", "[]\n[]\nnull0\nnullx\n[]x\n",
	// Rows the reference refuses: JSONRows must not panic on them.
	"[\"a\"]\n[\"UInt8\"]\n[01]\n", "[\"a\"]\n[\"UInt8\"]\n[1,]\n", "[\"a\"]\n[\"UInt8\"]\n[\"\\x\"]\n",
	"[\"a\"]\n[\"UInt8\"]\n[\"\x01\"]\n", "[\"a\"]\n[\"UInt8\"]\n[1\n", "[\"a\"]\n[\"UInt8\"]\n{\"a\":1}\n",
	"[\"a\"]\n[\"UInt8\"]\n[+1]\n", "[\"a\"]\n[\"UInt8\"]\n[.5]\n",
	"[\"a\"]\n[\"UInt8\"]\n[1.]\n", "[\"a\"]\n[\"UInt8\"]\n[tru]\n", "[\"a\"]\n[\"UInt8\"]\n[\"\\u12\"]\n",
	"[\"a\"]\n[\"Map(String, String)\"]\n[{1:\"a\"}]\n", "[\"a\"]\n[\"Map(String, String)\"]\n[{\"a\" \"b\"}]\n",
}

func TestJSONRowsAgreesWithReference(t *testing.T) {
	for i, in := range diffInputs {
		t.Run(fmt.Sprint(i), func(t *testing.T) { compareDecoders(t, []byte(in)) })
	}
	files, err := filepath.Glob(filepath.Join("testdata", "jsonrows", "*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		t.Run(filepath.Base(f), func(t *testing.T) { compareDecoders(t, data) })
	}
}

// TestJSONRowsDeep: nesting past encoding/json's limit is refused, not a stack overflow.
func TestJSONRowsDeep(t *testing.T) {
	for _, depth := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1, 100 * maxJSONDepth} {
		row := make([]byte, 0, 2*depth)
		for range depth {
			row = append(row, '[')
		}
		for range depth {
			row = append(row, ']')
		}
		data := append([]byte("[\"a\"]\n[\"Array(Int64)\"]\n["), row...)
		data = append(data, "]\n"...)
		compareDecoders(t, data)
		r, err := NewJSONRows(data)
		require.NoError(t, err)
		require.Equal(t, depth+1 <= maxJSONDepth, r.Next(), "depth %d", depth+1)
	}
}

// TestParseFloatFast compares the fast path with strconv on numbers around its limits.
func TestParseFloatFast(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var texts []string
	for range 200000 {
		m := rnd.Uint64() >> rnd.IntN(64)
		s := strconv.FormatUint(m, 10)
		if p := rnd.IntN(len(s) + 1); rnd.IntN(2) == 0 && p < len(s) {
			s = s[:p] + "." + s[p:]
			if p == 0 {
				s = "0" + s
			}
		}
		if rnd.IntN(3) == 0 {
			s += "e" + strconv.Itoa(rnd.IntN(60)-30)
		}
		if rnd.IntN(2) == 0 {
			s = "-" + s
		}
		texts = append(texts, s)
	}
	texts = append(texts, "0", "-0", "9007199254740992", "9007199254740993", "1e22", "1e23", "1e-22", "1e-23",
		"0.1", "0.30000000000000004", "1.7976931348623157e308", "5e-324", "123456789012345678.9", "1e+5", "1E5",
		"1.", ".5", "1e", "1e+", "--1", "1x", "", "-", "00.5", "1e0999999999")
	fast := 0
	for _, s := range texts {
		f, ok := parseFloatFast([]byte(s))
		if !ok {
			continue
		}
		fast++
		want, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(f), s)
	}
	require.Greater(t, fast, len(texts)/4, "the fast path reads most of these")
}
