package bench

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Result is what Time measured. The statistics cover the measured calls that succeeded;
// they are zero when there were none.
type Result struct {
	Name      string
	Durations []time.Duration // measured calls, in call order
	Warmups   []time.Duration // warm-up calls, in call order

	Min, Mean, P50, Max, Stddev time.Duration
}

// summarize fills the statistics from Durations. P50 is the median (the mean of the two
// middle values for an even count); Stddev is the sample standard deviation.
func (r *Result) summarize() {
	n := len(r.Durations)
	if n == 0 {
		return
	}
	sorted := slices.Clone(r.Durations)
	slices.Sort(sorted)
	r.Min, r.Max = sorted[0], sorted[n-1]
	if n%2 == 1 {
		r.P50 = sorted[n/2]
	} else {
		r.P50 = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	var sum float64
	for _, d := range sorted {
		sum += float64(d)
	}
	mean := sum / float64(n)
	r.Mean = time.Duration(math.Round(mean))
	if n > 1 {
		var sq float64
		for _, d := range sorted {
			sq += (float64(d) - mean) * (float64(d) - mean)
		}
		r.Stddev = time.Duration(math.Round(math.Sqrt(sq / float64(n-1))))
	}
}

// String gives a one-line summary, e.g. "fib: 5 calls, min 1.2ms, mean 1.3ms, p50 1.3ms,
// max 1.6ms".
func (r Result) String() string {
	if len(r.Durations) == 0 {
		return r.Name + ": no measured calls"
	}
	return fmt.Sprintf("%s: %d calls, min %s, mean %s, p50 %s, max %s",
		r.Name, len(r.Durations), round(r.Min), round(r.Mean), round(r.P50), round(r.Max))
}

// round keeps three or four significant digits, enough to read a timing.
func round(d time.Duration) time.Duration {
	for _, unit := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if d >= unit {
			return d.Round(unit / 1000)
		}
	}
	return d
}

// maxArgValue is the longest string recorded as a value; longer ones get only a length.
const maxArgValue = 64

func argAttributes(args []any) []attribute.KeyValue {
	var out []attribute.KeyValue
	for i, a := range args {
		prefix := "bench.arg." + strconv.Itoa(i) + "."
		if a == nil {
			out = append(out, attribute.String(prefix+"type", "nil"))
			continue
		}
		v := reflect.ValueOf(a)
		out = append(out, attribute.String(prefix+"type", v.Type().String()))
		switch v.Kind() {
		case reflect.Bool:
			out = append(out, attribute.Bool(prefix+"value", v.Bool()))
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			out = append(out, attribute.Int64(prefix+"value", v.Int()))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			if u := v.Uint(); u <= math.MaxInt64 {
				out = append(out, attribute.Int64(prefix+"value", int64(u)))
			} else {
				out = append(out, attribute.String(prefix+"value", strconv.FormatUint(u, 10)))
			}
		case reflect.Float32, reflect.Float64:
			out = append(out, attribute.Float64(prefix+"value", v.Float()))
		case reflect.String:
			out = append(out, attribute.Int(prefix+"len", v.Len()))
			if v.Len() <= maxArgValue {
				out = append(out, attribute.String(prefix+"value", v.String()))
			}
		case reflect.Slice, reflect.Array, reflect.Map, reflect.Chan:
			out = append(out, attribute.Int(prefix+"len", v.Len()))
		}
	}
	return out
}
