package sentry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Envelope limits. An envelope is read whole into memory (the body is bounded by
// limits.max_request_bytes first), so these only bound the work per envelope.
const (
	maxHeaderLine = 64 << 10 // bytes of the envelope header or of one item header
	maxItems      = 1000     // items per envelope
)

// ErrEnvelope is wrapped by every error of ParseEnvelope: the body is not a valid envelope
// (HTTP 400).
var ErrEnvelope = errors.New("invalid envelope")

// Envelope is a parsed Sentry envelope
// (https://develop.sentry.dev/sdk/data-model/envelopes/): a header line of JSON and items,
// each an item header line of JSON and a payload. Payloads alias the parsed body.
type Envelope struct {
	Header EnvelopeHeader
	Items  []Item
}

// EnvelopeHeader holds the envelope header fields Loupe reads; the others are ignored.
type EnvelopeHeader struct {
	EventID string `json:"event_id"`
	DSN     string `json:"dsn"`
	SentAt  string `json:"sent_at"`
}

// Item is one envelope item.
type Item struct {
	Type        string
	ContentType string
	Filename    string
	Payload     []byte
}

type itemHeader struct {
	Type        string          `json:"type"`
	Length      json.RawMessage `json:"length"`
	ContentType string          `json:"content_type"`
	Filename    string          `json:"filename"`
}

// ParseEnvelope parses body. The framing rules are the spec's: the envelope header is the
// first line (it may be "{}"); each item header is one line of JSON with a "type"; with a
// "length" the payload is exactly that many bytes, followed by a newline or the end of the
// body; without one the payload runs to the next newline or the end. A trailing newline
// after the last item is optional. Errors wrap ErrEnvelope and name the item (0-based) and
// the problem; items of unknown types are returned like the others (the caller skips them).
func ParseEnvelope(body []byte) (*Envelope, error) {
	line, rest, _ := cutLine(body)
	if len(line) > maxHeaderLine {
		return nil, fmt.Errorf("%w: envelope header is longer than %d bytes", ErrEnvelope, maxHeaderLine)
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, fmt.Errorf("%w: the first line must be the envelope header (a JSON object), found an empty line", ErrEnvelope)
	}
	env := &Envelope{}
	if err := json.Unmarshal(line, &env.Header); err != nil {
		return nil, fmt.Errorf("%w: envelope header is not a JSON object: %v", ErrEnvelope, shortJSONError(err))
	}
	for len(rest) > 0 {
		i := len(env.Items)
		var hdrLine []byte
		var hasNL bool
		hdrLine, rest, hasNL = cutLine(rest)
		if len(bytes.TrimSpace(hdrLine)) == 0 && !hasNL {
			break // only trailing whitespace left
		}
		if len(bytes.TrimSpace(hdrLine)) == 0 {
			// Blank lines between items are tolerated (some SDKs end a length-less item
			// with "\n" and the envelope with another).
			continue
		}
		if i >= maxItems {
			return nil, fmt.Errorf("%w: more than %d items", ErrEnvelope, maxItems)
		}
		if len(hdrLine) > maxHeaderLine {
			return nil, fmt.Errorf("%w: item %d: header is longer than %d bytes", ErrEnvelope, i, maxHeaderLine)
		}
		var h itemHeader
		if err := json.Unmarshal(hdrLine, &h); err != nil {
			return nil, fmt.Errorf("%w: item %d: header is not a JSON object: %v", ErrEnvelope, i, shortJSONError(err))
		}
		if h.Type == "" {
			return nil, fmt.Errorf("%w: item %d: header has no \"type\"", ErrEnvelope, i)
		}
		it := Item{Type: h.Type, ContentType: h.ContentType, Filename: h.Filename}
		if len(h.Length) > 0 && string(h.Length) != "null" {
			n, err := strconv.ParseInt(string(h.Length), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: item %d (%s): length %.32s is not a non-negative integer", ErrEnvelope, i, clip(h.Type), h.Length)
			}
			if n > int64(len(rest)) {
				return nil, fmt.Errorf("%w: item %d (%s): length %d is more than the %d bytes left in the body (truncated item?)",
					ErrEnvelope, i, clip(h.Type), n, len(rest))
			}
			it.Payload, rest = rest[:n], rest[n:]
			switch {
			case len(rest) == 0:
			case rest[0] == '\n':
				rest = rest[1:]
			default:
				return nil, fmt.Errorf("%w: item %d (%s): no newline after its %d-byte payload (does the length lie?)", ErrEnvelope, i, clip(h.Type), n)
			}
		} else {
			var payload []byte
			payload, rest, _ = cutLine(rest)
			it.Payload = payload
		}
		env.Items = append(env.Items, it)
	}
	return env, nil
}

// cutLine returns b up to the first newline (without it), the rest after it, and whether
// there was a newline. A "\r" before the newline stays in the line: the spec makes it part
// of an implicit-length payload, and JSON headers read it as white space.
func cutLine(b []byte) (line, rest []byte, found bool) {
	return bytes.Cut(b, []byte{'\n'})
}

// shortJSONError keeps encoding/json's message but not the type names of Go structs.
func shortJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q is a JSON %s", te.Field, te.Value)
		}
		return fmt.Sprintf("found a JSON %s", te.Value)
	}
	return err.Error()
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:max]) + "..."
}
