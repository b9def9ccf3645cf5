package metrics

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// HistogramMode says how the two duration families are exposed.
type HistogramMode int

const (
	// Classic exposes fixed buckets (ActionDurationBuckets,
	// BuildDurationBuckets): a _bucket series per bound, _sum and _count.
	Classic HistogramMode = iota
	// Native exposes Prometheus native histograms only: one series per
	// label set for a Prometheus that scrapes them (protobuf), only _sum and
	// _count in the text formats.
	Native
	// Both exposes the classic buckets and the native ones in one metric, as
	// client_golang does for a histogram with both configured.
	Both
)

// HistogramModes are the accepted names of the modes, in flag order.
var HistogramModes = []string{"classic", "native", "both"}

func (m HistogramMode) String() string {
	if int(m) < len(HistogramModes) {
		return HistogramModes[m]
	}
	return fmt.Sprintf("HistogramMode(%d)", int(m))
}

// ParseHistogramMode returns the mode named s.
func ParseHistogramMode(s string) (HistogramMode, error) {
	for i, n := range HistogramModes {
		if s == n {
			return HistogramMode(i), nil
		}
	}
	return Classic, fmt.Errorf("unknown histogram mode %q, want one of %s", s, strings.Join(HistogramModes, ", "))
}

// HasClassic reports whether the mode exposes the fixed buckets.
func (m HistogramMode) HasClassic() bool { return m != Native }

// HasNative reports whether the mode exposes native buckets.
func (m HistogramMode) HasNative() bool { return m != Classic }

// NativeSchema is the resolution of the native duration histograms: schema 3
// has 8 buckets per power of two, each bound 2^(1/8) ≈ 1.09 times the one
// below it (client_golang's NativeHistogramBucketFactor 1.1), so a quantile
// is placed within a bucket about 9% wide. Durations are kept in whole milliseconds, so
// the positive bucket keys of every possible observation lie in
// [NativeMinKey, NativeMaxKey].
const NativeSchema = 3

// NativeZeroThreshold is the width of the zero bucket: it holds the
// observations of 0 (a step whose first and last records share a
// timestamp). It is client_golang's default.
const NativeZeroThreshold = 2.938735877055719e-39

// Bounds of NativeKey for a whole number of milliseconds from 1 to
// math.MaxInt64.
const (
	NativeMinKey = -79 // 0.001 s
	NativeMaxKey = 425 // math.MaxInt64 ms
)

// nativeBounds are the upper bounds, within [0.5, 1), of the 2^NativeSchema
// buckets of one power of two: 2^(i/8 - 1), the constants client_golang uses
// for schema 3.
var nativeBounds = []float64{
	0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048,
	0.7071067811865475, 0.7711054127039704, 0.8408964152537144, 0.9170040432046711,
}

// NativeKey returns the index of the native bucket of schema NativeSchema
// holding v > 0: the bucket (2^((k-1)/8), 2^(k/8)]. It is the computation
// of client_golang's histogram, so both agree on every boundary.
func NativeKey(v float64) int {
	frac, exp := math.Frexp(v)
	return sort.SearchFloat64s(nativeBounds, frac) + (exp-1)*len(nativeBounds)
}
