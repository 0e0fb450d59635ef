package sentry

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// eventMeta is what the request, not the event JSON, says about an event.
type eventMeta struct {
	Project  string // project id from the URL
	Service  string // project name
	EventID  string // from the envelope or item header, used when the event has none
	Received time.Time
}

// DecodeEvent parses one Sentry event payload (an envelope "event" item or a store
// request body) into an errtrack.Event. Only invalid JSON, a payload that is not an object
// and nesting beyond maxJSONDepth are errors; every field of an unexpected shape is read
// as absent.
func DecodeEvent(payload []byte, meta eventMeta) (errtrack.Event, error) {
	m, err := decodeObject(payload)
	if err != nil {
		return errtrack.Event{}, err
	}
	return mapEvent(m, meta), nil
}

// mapEvent reads the fields of Sentry's event schema
// (https://develop.sentry.dev/sdk/data-model/event-payloads/) that errtrack keeps.
func mapEvent(m map[string]any, meta eventMeta) errtrack.Event {
	ev := errtrack.Event{
		EventID:     eventID(m["event_id"], meta.EventID),
		Source:      errtrack.SourceSentry,
		Project:     meta.Project,
		Service:     meta.Service,
		Received:    meta.Received,
		Level:       level(m["level"]),
		Platform:    str(m["platform"], maxShortBytes),
		Release:     str(m["release"], maxShortBytes),
		Environment: str(m["environment"], maxShortBytes),
		ServerName:  str(m["server_name"], maxShortBytes),
		Logger:      str(m["logger"], maxShortBytes),
		Transaction: str(m["transaction"], maxShortBytes),
		Message:     message(m),
		Tags:        stringMap(m["tags"], maxTags),
		User:        user(m["user"]),
		Request:     request(m["request"]),
		Breadcrumbs: breadcrumbs(m["breadcrumbs"]),
		Contexts:    boundedMap(m["contexts"]),
		Extra:       boundedMap(m["extra"]),
		Fingerprint: fingerprint(m["fingerprint"]),
	}
	if ev.Transaction == "" {
		ev.Transaction = str(m["culprit"], maxShortBytes)
	}
	ev.Timestamp = meta.Received
	if t, ok := timestamp(m["timestamp"]); ok {
		ev.Timestamp = t
	}
	if trace := obj(obj(m["contexts"])["trace"]); trace != nil {
		ev.TraceID = hexID(trace["trace_id"], 32)
		ev.SpanID = hexID(trace["span_id"], 16)
	}
	ev.Exceptions = exceptions(m)
	return ev
}

// eventID is the event's id, else the envelope's, else a new random one (the legacy
// store endpoint does not require one).
func eventID(v any, fallback string) string {
	if id := hexID(v, 32); id != "" {
		return id
	}
	if id := hexID(fallback, 32); id != "" {
		return id
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// level normalises Sentry's levels (and the Python logging names SDKs pass through).
func level(v any) string {
	switch l := strings.ToLower(str(v, 32)); l {
	case "fatal", "error", "warning", "info", "debug":
		return l
	case "critical":
		return "fatal"
	case "warn":
		return "warning"
	case "log":
		return "info"
	}
	return "error"
}

// message reads "message" (a string or a logentry object) and "logentry".
func message(m map[string]any) string {
	for _, key := range []string{"logentry", "message", "sentry.interfaces.Message"} {
		switch x := m[key].(type) {
		case string:
			if x != "" {
				return clipUTF8(x, maxStringBytes)
			}
		case map[string]any:
			if s := str(x["formatted"], maxStringBytes); s != "" {
				return s
			}
			if s := str(x["message"], maxStringBytes); s != "" {
				return s
			}
		}
	}
	return ""
}

func fingerprint(v any) []string {
	a := arr(v)
	if len(a) == 0 {
		return nil
	}
	out := make([]string, 0, min(len(a), maxFingerprint))
	for _, e := range a {
		if len(out) == maxFingerprint {
			break
		}
		if s := str(e, maxShortBytes); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func user(v any) *errtrack.User {
	u := obj(v)
	if u == nil {
		return nil
	}
	out := &errtrack.User{
		ID:        str(u["id"], maxShortBytes),
		Email:     str(u["email"], maxShortBytes),
		Username:  str(u["username"], maxShortBytes),
		IPAddress: str(u["ip_address"], 64),
	}
	if *out == (errtrack.User{}) {
		return nil
	}
	return out
}

// request keeps the method, URL, query string and headers; cookies, body data and the
// environment are not kept (they are where secrets are).
func request(v any) *errtrack.Request {
	r := obj(v)
	if r == nil {
		return nil
	}
	out := &errtrack.Request{
		Method:  strings.ToUpper(str(r["method"], 16)),
		URL:     str(r["url"], maxStringBytes),
		Headers: stringMap(r["headers"], maxTags),
	}
	switch q := r["query_string"].(type) {
	case string:
		out.QueryString = clipUTF8(strings.TrimPrefix(q, "?"), maxStringBytes)
	case map[string]any, []any:
		var parts []string
		for k, val := range stringMap(q, maxTags) {
			parts = append(parts, k+"="+val)
		}
		out.QueryString = clipUTF8(strings.Join(parts, "&"), maxStringBytes)
	}
	if out.Method == "" && out.URL == "" && out.QueryString == "" && out.Headers == nil {
		return nil
	}
	return out
}

func breadcrumbs(v any) []errtrack.Breadcrumb {
	list := values(v)
	if len(list) > maxBreadcrumbs {
		list = list[len(list)-maxBreadcrumbs:] // the latest tell most about the error
	}
	var out []errtrack.Breadcrumb
	for _, e := range list {
		b := obj(e)
		if b == nil {
			continue
		}
		bc := errtrack.Breadcrumb{
			Type:     str(b["type"], maxShortBytes),
			Category: str(b["category"], maxShortBytes),
			Level:    str(b["level"], 32),
			Message:  str(b["message"], maxStringBytes),
			Data:     boundedMap(b["data"]),
		}
		if t, ok := timestamp(b["timestamp"]); ok {
			bc.Timestamp = t
		}
		out = append(out, bc)
	}
	return out
}

// exceptions reads exception.values (or a list, or a single exception). An exception
// without its own stacktrace takes the one of its thread (threads.values[].stacktrace,
// matched by thread_id, else the crashed or current thread), as Sentry does.
func exceptions(m map[string]any) []errtrack.Exception {
	list := values(m["exception"])
	if list == nil {
		list = values(m["sentry.interfaces.Exception"])
	}
	if len(list) > maxExceptions {
		list = list[len(list)-maxExceptions:] // the last one is the one raised
	}
	threads := values(m["threads"])
	var out []errtrack.Exception
	for _, e := range list {
		x := obj(e)
		if x == nil {
			continue
		}
		ex := errtrack.Exception{
			Type:   str(x["type"], maxShortBytes),
			Value:  str(x["value"], maxStringBytes),
			Module: str(x["module"], maxShortBytes),
		}
		if mech := obj(x["mechanism"]); mech != nil {
			ex.Mechanism = str(mech["type"], maxShortBytes)
			if h, ok := boolean(mech["handled"]); ok {
				ex.Handled = &h
			}
		}
		st := obj(x["stacktrace"])
		if st == nil {
			st = threadStack(threads, x["thread_id"])
		}
		ex.Frames = frames(st)
		if ex.Type == "" && ex.Value == "" && len(ex.Frames) == 0 {
			continue
		}
		out = append(out, ex)
	}
	return out
}

func threadStack(threads []any, id any) map[string]any {
	var crashed, current map[string]any
	for _, t := range threads {
		th := obj(t)
		st := obj(th["stacktrace"])
		if st == nil {
			continue
		}
		if id != nil && th["id"] == id {
			return st
		}
		if b, _ := boolean(th["crashed"]); b && crashed == nil {
			crashed = st
		}
		if b, _ := boolean(th["current"]); b && current == nil {
			current = st
		}
	}
	if crashed != nil {
		return crashed
	}
	return current
}

// frames reads stacktrace.frames, outermost first as Sentry sends them. Past maxFrames the
// middle is dropped: the outermost frames say where the work began, the innermost where it
// failed.
func frames(st map[string]any) []errtrack.Frame {
	list := arr(st["frames"])
	if len(list) > maxFrames {
		half := maxFrames / 2
		list = append(append([]any{}, list[:half]...), list[len(list)-half:]...)
	}
	var out []errtrack.Frame
	for _, e := range list {
		f := obj(e)
		if f == nil {
			continue
		}
		fr := errtrack.Frame{
			Function:    str(f["function"], maxShortBytes),
			Module:      str(f["module"], maxShortBytes),
			Filename:    str(f["filename"], maxShortBytes),
			AbsPath:     str(f["abs_path"], maxShortBytes),
			Lineno:      integer(f["lineno"]),
			Colno:       integer(f["colno"]),
			ContextLine: str(f["context_line"], maxShortBytes),
			PreContext:  lines(f["pre_context"], true),
			PostContext: lines(f["post_context"], false),
		}
		if fr.Module == "" {
			fr.Module = str(f["package"], maxShortBytes) // Go and native SDKs
		}
		if b, ok := boolean(f["in_app"]); ok {
			fr.InApp = b
		}
		out = append(out, fr)
	}
	return out
}

// lines reads context lines, keeping the maxContextLines nearest the frame's line: the
// last ones before it, the first ones after it.
func lines(v any, before bool) []string {
	a := arr(v)
	if len(a) > maxContextLines {
		if before {
			a = a[len(a)-maxContextLines:]
		} else {
			a = a[:maxContextLines]
		}
	}
	var out []string
	for _, l := range a {
		out = append(out, str(l, maxShortBytes))
	}
	return out
}
