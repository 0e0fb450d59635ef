package statsd

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// Kind is the type of a StatsD metric line.
type Kind uint8

// Metric kinds, by their type field.
const (
	Counter      Kind = iota + 1 // c
	Gauge                        // g
	Timer                        // ms
	Histogram                    // h
	Distribution                 // d
	Set                          // s
)

// String returns the StatsD type field of k.
func (k Kind) String() string {
	switch k {
	case Counter:
		return "c"
	case Gauge:
		return "g"
	case Timer:
		return "ms"
	case Histogram:
		return "h"
	case Distribution:
		return "d"
	case Set:
		return "s"
	}
	return "?"
}

// Tag is one DogStatsD tag. Value is empty for a tag written without a colon.
type Tag struct {
	Key, Value string
}

// Metric is one parsed metric line.
type Metric struct {
	Name string
	Kind Kind
	// Values holds the numbers of the line (DogStatsD packs several as name:1:2:3|h).
	// For a Set it is empty and SetValue holds the member.
	Values   []float64
	SetValue string
	// Delta is true for a gauge written with a leading + or -: the value is added to the
	// current one instead of replacing it.
	Delta bool
	// SampleRate is the @rate field, in (0, 1]; 1 when absent.
	SampleRate float64
	Tags       []Tag
}

// ParseError is a malformed line. Reason is a short fixed word used as the reason label
// of loupe_statsd_malformed_lines_total.
type ParseError struct {
	Reason string
	Msg    string
}

func (e *ParseError) Error() string { return e.Msg }

func perr(reason, msg string) error { return &ParseError{Reason: reason, Msg: msg} }

// Reasons a line is malformed.
const (
	reasonNoName        = "empty_name"
	reasonNoValue       = "no_value"
	reasonBadValue      = "bad_value"
	reasonBadType       = "bad_type"
	reasonBadRate       = "bad_sample_rate"
	reasonBadTag        = "bad_tag"
	reasonBadEvent      = "bad_event"
	reasonBadCheck      = "bad_service_check"
	reasonNegative      = "negative_counter"
	reasonInvalidUTF8   = "invalid_utf8"
	reasonLineTooLong   = "line_too_long"
	reasonUnknownFormat = "bad_format"
)

// errTooManyValues guards against a packed line with millions of values.
const maxPackedValues = 1024

// ParseMetric parses one StatsD or DogStatsD metric line:
//
//	name:value[:value...]|type[|@rate][|#k:v,k2:v2][|T<unix>][|c:<container>]
//
// The returned Metric does not reference line. Errors are *ParseError.
func ParseMetric(line []byte) (Metric, error) {
	var m Metric
	if !utf8.Valid(line) {
		return m, perr(reasonInvalidUTF8, "line is not valid UTF-8")
	}
	colon := bytes.IndexByte(line, ':')
	pipe := bytes.IndexByte(line, '|')
	if pipe < 0 {
		return m, perr(reasonBadType, "no |type field")
	}
	if colon < 0 || colon > pipe {
		return m, perr(reasonNoValue, "no :value before the |type field")
	}
	if colon == 0 {
		return m, perr(reasonNoName, "empty metric name")
	}
	m.Name = string(line[:colon])
	valuePart := line[colon+1 : pipe]
	rest := line[pipe+1:]
	typ, rest := cutPipe(rest)
	switch string(typ) {
	case "c":
		m.Kind = Counter
	case "g":
		m.Kind = Gauge
	case "ms":
		m.Kind = Timer
	case "h":
		m.Kind = Histogram
	case "d":
		m.Kind = Distribution
	case "s":
		m.Kind = Set
	default:
		return m, perr(reasonBadType, "unknown metric type "+strconv.Quote(string(typ)))
	}
	if len(valuePart) == 0 {
		return m, perr(reasonNoValue, "empty value")
	}
	if m.Kind == Set {
		m.SetValue = string(valuePart)
	} else if err := m.parseValues(valuePart); err != nil {
		return m, err
	}

	m.SampleRate = 1
	for len(rest) > 0 {
		var field []byte
		field, rest = cutPipe(rest)
		switch {
		case len(field) == 0:
			return m, perr(reasonUnknownFormat, "empty field")
		case field[0] == '@':
			r, err := strconv.ParseFloat(string(field[1:]), 64)
			if err != nil || !(r > 0 && r <= 1) {
				return m, perr(reasonBadRate, "sample rate "+strconv.Quote(string(field[1:]))+" is not in (0, 1]")
			}
			m.SampleRate = r
		case field[0] == '#':
			tags, err := parseTags(field[1:])
			if err != nil {
				return m, err
			}
			m.Tags = append(m.Tags, tags...)
		case field[0] == 'T', bytes.HasPrefix(field, []byte("c:")), bytes.HasPrefix(field, []byte("e:")):
			// DogStatsD timestamp, container id and external data: accepted and ignored;
			// samples are stamped at flush time.
		default:
			return m, perr(reasonUnknownFormat, "unknown field "+strconv.Quote(string(field)))
		}
	}
	return m, nil
}

func (m *Metric) parseValues(b []byte) error {
	if m.Kind == Gauge && (b[0] == '+' || b[0] == '-') {
		m.Delta = true
	}
	for len(b) > 0 {
		if len(m.Values) == maxPackedValues {
			return perr(reasonBadValue, "more than 1024 packed values")
		}
		var v []byte
		if i := bytes.IndexByte(b, ':'); i >= 0 {
			v, b = b[:i], b[i+1:]
			if len(b) == 0 {
				return perr(reasonBadValue, "trailing ':' after the value")
			}
		} else {
			v, b = b, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || f != f || f > 1e300 || f < -1e300 {
			return perr(reasonBadValue, "value "+strconv.Quote(string(v))+" is not a finite number")
		}
		if m.Kind == Counter && f < 0 {
			return perr(reasonNegative, "counter increment "+strconv.Quote(string(v))+" is negative")
		}
		m.Values = append(m.Values, f)
	}
	return nil
}

// parseTags parses "k:v,k2:v2,flag".
func parseTags(b []byte) ([]Tag, error) {
	var tags []Tag
	for len(b) > 0 {
		var t []byte
		if i := bytes.IndexByte(b, ','); i >= 0 {
			t, b = b[:i], b[i+1:]
		} else {
			t, b = b, nil
		}
		if len(t) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(t, []byte{':'})
		if len(k) == 0 {
			return nil, perr(reasonBadTag, "tag "+strconv.Quote(string(t))+" has an empty key")
		}
		tags = append(tags, Tag{Key: string(k), Value: string(v)})
	}
	return tags, nil
}

// cutPipe splits b at the first '|'.
func cutPipe(b []byte) (field, rest []byte) {
	if i := bytes.IndexByte(b, '|'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}
