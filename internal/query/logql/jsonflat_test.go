package logql

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzFlattenJSON checks flattenJSONLine against decoding with encoding/json and
// flattening the maps: the same errors and the same labels.
func FuzzFlattenJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":{"c":"x","d":[1,{"e":2}]},"f":null,"g":true}`, `{}`, ` {"a":"\u00e9\n"} trailing`,
		`{"a":01}`, `[1]`, `{"a":"\xff"}`, `{"a":-1.5e+3,"b":false}`, `{"a" : { } }`, `{"a":"x",}`, `{"a":1e999}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast := map[string]string{}
		collision := false
		fastErr := flattenJSONLine(s, func(k, v string) {
			if _, ok := fast[k]; ok {
				collision = true
			}
			fast[k] = v
		})
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		refErr := dec.Decode(&v)
		obj, isObj := v.(map[string]any)
		if refErr == nil && !isObj {
			refErr = errNotObject
		}
		if (fastErr == nil) != (refErr == nil) {
			t.Fatalf("%q: fast error %v, encoding/json error %v", s, fastErr, refErr)
		}
		if refErr != nil || collision || hasDuplicateKeys(s) {
			return
		}
		ref := map[string]string{}
		flattenJSON("", obj, func(k, v string) { ref[k] = v })
		if len(ref) != len(fast) {
			t.Fatalf("%q: fast %v, reference %v", s, fast, ref)
		}
		for k, v := range ref {
			if fast[k] != v {
				t.Fatalf("%q: key %q: fast %q, reference %q", s, k, fast[k], v)
			}
		}
	})
}

var errNotObject = jsonErr("not an object")

type jsonErr string

func (e jsonErr) Error() string { return string(e) }

// hasDuplicateKeys reports whether an object in s repeats a key (encoding/json keeps the
// last value, which flattening cannot mirror when the values differ in kind).
func hasDuplicateKeys(s string) bool {
	dec := json.NewDecoder(strings.NewReader(s))
	type level struct {
		obj      bool
		keys     map[string]bool
		wantsKey bool
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := (*level)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.obj {
					top.wantsKey = true
				}
				stack = append(stack, &level{obj: t == '{', keys: map[string]bool{}, wantsKey: true})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return false
				}
			}
		default:
			if top != nil && top.obj {
				if top.wantsKey {
					k, _ := t.(string)
					if top.keys[k] {
						return true
					}
					top.keys[k] = true
					top.wantsKey = false
				} else {
					top.wantsKey = true
				}
			}
		}
	}
}
