package errtrack

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Grouping (version 1) — how an event finds its issue.
//
// The grouping key is a list of components; the issue id is the first 16 bytes of the
// SHA-256 of the version and the components, in hex (32 digits). Components, in order of
// preference:
//
//  1. The SDK's fingerprint, when the event has one. "{{ default }}" (spaces optional) in it
//     stands for the default components below, so ["{{ default }}", "db"] splits the
//     default issue by "db".
//  2. Default, for an event with exceptions: for each exception of the chain (causes
//     first), its type without module or package ("IllegalStateException",
//     "errorString") and its frames as "module.function" (module, else the file's base
//     name without extension), normalised (normalizeFunction). Only in-app frames count
//     when any frame of the event is in-app; otherwise all frames do. Line and column
//     numbers, paths, addresses and context lines never count, so the same bug hit from a
//     line that moved is the same issue.
//  3. An exception without frames: its type and its value with variable parts masked
//     (MaskMessage).
//  4. An event without exceptions: its message, masked (or its logger and level when it
//     has no message either).
//
// Changing the algorithm must not split existing issues silently. The rule: never change
// what version 1 computes. A new algorithm gets the next GroupingVersion, and the
// Grouper then computes both the new key and the keys of older versions for each event;
// when an issue with an older version's id exists (the store knows, Exists), the event
// joins it, so events keep landing in the issues users already triage, while new kinds
// of events group the new way. Each issue records the version that created it
// (Issue.GroupingVersion) and its key (Issue.Fingerprint, "v1\n" + components).
const GroupingVersion = 1

// maxMessageGroupBytes caps the part of a message that grouping reads: a huge message
// costs masking time and its tail rarely tells bugs apart.
const maxMessageGroupBytes = 1024

// Grouper assigns events to issues. It is stateless and safe for concurrent use.
type Grouper struct{}

// Group sets ev.GroupID and ev.GroupingKey from the event's content.
func (Grouper) Group(ev *Event) {
	comps := Components(ev)
	ev.GroupingKey = groupingKey(GroupingVersion, comps)
	ev.GroupID = GroupID(GroupingVersion, comps)
}

// GroupID is the issue id of a grouping key: hex of the first 16 bytes of SHA-256 over
// the version and the components, each followed by a NUL byte.
func GroupID(version int, comps []string) string {
	h := sha256.New()
	h.Write([]byte("v" + strconv.Itoa(version)))
	h.Write([]byte{0})
	for _, c := range comps {
		h.Write([]byte(c))
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

func groupingKey(version int, comps []string) string {
	return "v" + strconv.Itoa(version) + "\n" + strings.Join(comps, "\n")
}

// GroupingKeyVersion returns the version a grouping key was computed with (0 when the key
// has no version prefix).
func GroupingKeyVersion(key string) int {
	head, _, _ := strings.Cut(key, "\n")
	if v, ok := strings.CutPrefix(head, "v"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return 0
}

// Components returns the grouping components of an event (version 1; see above).
func Components(ev *Event) []string {
	if len(ev.Fingerprint) == 0 {
		return defaultComponents(ev)
	}
	// Custom fingerprints are marked so that a fingerprint ["ValueError"] can never
	// collide with a default key.
	out := []string{"fingerprint"}
	for _, f := range ev.Fingerprint {
		if isDefaultMarker(f) {
			out = append(out, defaultComponents(ev)...)
			continue
		}
		out = append(out, f)
	}
	return out
}

func isDefaultMarker(s string) bool {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") {
		return false
	}
	return strings.TrimSpace(s[2:len(s)-2]) == "default"
}

func defaultComponents(ev *Event) []string {
	if len(ev.Exceptions) == 0 {
		msg := ev.Message
		if msg == "" {
			return []string{"empty", ev.Logger, ev.Level}
		}
		return []string{"message", MaskMessage(truncateUTF8(msg, maxMessageGroupBytes))}
	}
	anyInApp := false
	for _, ex := range ev.Exceptions {
		for _, f := range ex.Frames {
			if f.InApp {
				anyInApp = true
			}
		}
	}
	var out []string
	for _, ex := range ev.Exceptions {
		out = append(out, "type:"+shortType(ex.Type))
		n := 0
		for _, f := range ex.Frames {
			if anyInApp && !f.InApp {
				continue
			}
			out = append(out, "frame:"+frameKey(f))
			n++
		}
		if n == 0 && len(ex.Frames) == 0 {
			out = append(out, "value:"+MaskMessage(truncateUTF8(ex.Value, maxMessageGroupBytes)))
		}
	}
	return out
}

// shortType drops the module or package of an exception type and Go's pointer star, so
// that "java.lang.IllegalStateException" (OpenTelemetry) and "IllegalStateException"
// with module "java.lang" (Sentry) group together.
func shortType(t string) string {
	t = strings.TrimSpace(t)
	t = strings.TrimLeft(t, "*&")
	if i := strings.LastIndexAny(t, ".:/"); i >= 0 && i < len(t)-1 {
		t = t[i+1:]
	}
	return t
}

// frameKey is a frame's identity for grouping: normalised module and function.
func frameKey(f Frame) string {
	mod := f.Module
	if mod == "" {
		mod = fileModule(f.Filename)
		if mod == "" {
			mod = fileModule(f.AbsPath)
		}
	}
	return normalizeModule(mod) + "." + normalizeFunction(f.Function)
}

// fileModule is a file's base name without its extension and query string
// ("/srv/app/views.py" -> "views", "https://x/app.js?v=3" -> "app").
func fileModule(name string) string {
	if i := strings.IndexAny(name, "?#"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	return name
}

// normalizeModule masks the generated parts of module names: bundle hashes
// ("main.3f2a9c1b") and numbered chunks.
func normalizeModule(m string) string {
	if !hasDigit(m) {
		return m
	}
	return maskGenerated(m)
}

// normalizeFunction removes what a compiler or runtime generates and that changes between
// builds: Go closure numbers (main.func1.2), Java lambda and anonymous class numbers
// (lambda$main$0, Foo$1, $$Lambda$14/0x000001), C# display classes (<Main>b__0_0),
// addresses and hashes. Names without digits are returned as they are (the common case,
// and the fast path).
func normalizeFunction(fn string) string {
	fn = strings.TrimSpace(fn)
	if !hasDigit(fn) {
		return fn
	}
	return maskGenerated(fn)
}

// maskGenerated drops every run of digits along with the hex run around it, and
// "0x..." addresses. "func12" -> "func", "Foo$1" -> "Foo$", "lambda$main$0" ->
// "lambda$main$", "$$Lambda$14/0x00000008000c1840" -> "$$Lambda$/", "chunk.3f2a9c" ->
// "chunk.". Letters only next to digits in a hex run of 6 or more go too (bundle
// hashes), while short names with a digit keep their letters ("sha256sum" ->
// "shasum").
func maskGenerated(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c == '0' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') {
			j := i + 2
			for j < len(s) && isHex(s[j]) {
				j++
			}
			if j > i+2 {
				i = j
				continue
			}
		}
		if isHex(c) {
			// A hex run of 6+ with a digit is a hash: drop all of it.
			j := i
			digit := false
			for j < len(s) && isHex(s[j]) {
				digit = digit || isDigit(s[j])
				j++
			}
			if digit && j-i >= 6 && (i == 0 || !isAlnum(s[i-1])) && (j == len(s) || !isAlnum(s[j])) {
				i = j
				continue
			}
		}
		if isDigit(c) {
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f' }
func isAlnum(c byte) bool {
	return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'z' || c == '_'
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Title is an issue's title as Sentry computes it: "Type: first line of the value" of the
// raised exception (the last one), its type alone without a value, else the first line of
// the message, else "<unlabeled event>"; at most 100 characters of the value or message.
func Title(ev *Event) string {
	if n := len(ev.Exceptions); n > 0 {
		ex := ev.Exceptions[n-1]
		t := ex.Type
		if t == "" {
			t = "Error"
		}
		v := firstLine(ex.Value)
		if v == "" {
			return t
		}
		return t + ": " + truncateChars(v, 100)
	}
	if m := firstLine(ev.Message); m != "" {
		return truncateChars(m, 100)
	}
	return "<unlabeled event>"
}

// Culprit is where the error happens, as Sentry shows it under the title: the event's
// transaction when set, else "module in function" (or "file in function") of the
// innermost in-app frame of the raised exception, else of its innermost frame.
func Culprit(ev *Event) string {
	if ev.Transaction != "" {
		return truncateChars(ev.Transaction, 200)
	}
	for i := len(ev.Exceptions) - 1; i >= 0; i-- {
		frames := ev.Exceptions[i].Frames
		if len(frames) == 0 {
			continue
		}
		pick := frames[len(frames)-1]
		for j := len(frames) - 1; j >= 0; j-- {
			if frames[j].InApp {
				pick = frames[j]
				break
			}
		}
		where := pick.Module
		if where == "" {
			where = pick.Filename
		}
		if where == "" {
			where = pick.AbsPath
		}
		switch {
		case where == "":
			return truncateChars(pick.Function, 200)
		case pick.Function == "":
			return truncateChars(where, 200)
		}
		return truncateChars(where+" in "+pick.Function, 200)
	}
	return ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// truncateChars cuts s to n characters, ending with "..." when it was longer.
func truncateChars(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-3 {
			break
		}
		count++
	}
	return s[:i] + "..."
}
