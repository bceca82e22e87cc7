package bench

import (
	"math/bits"
	"time"
)

// Histogram layout: log-linear buckets, HdrHistogram's idea. Values below
// 2^histSubBits nanoseconds each have a bucket of their own; above that,
// every power of two is split into 2^histSubBits equal buckets, so a
// bucket is at most 1/128 (0.78%) of its values wide. Values are clamped
// to histMaxNanos (about 18 minutes), far beyond any call the benchmark
// waits for.
const (
	histSubBits  = 7
	histSub      = 1 << histSubBits
	histMaxBits  = 40
	histMaxNanos = 1<<histMaxBits - 1
	histBuckets  = (histMaxBits - histSubBits + 1) << histSubBits
)

// Histogram records durations in fixed buckets: Record never allocates and
// costs a few instructions. It is not safe for concurrent use; each
// goroutine keeps its own and the owner merges them at the end.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    int64 // exact, in nanoseconds
}

// bucketOf returns the bucket index of v nanoseconds (0 <= v <= histMaxNanos).
func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - histSubBits
	mantissa := v >> uint(shift) // in [histSub, 2*histSub)
	return (shift+1)<<histSubBits + int(mantissa-histSub)
}

// bucketHigh returns the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	shift := i>>histSubBits - 1
	mantissa := uint64(i&(histSub-1)) + histSub
	return int64((mantissa+1)<<uint(shift) - 1)
}

// Record adds one duration. Negative durations (a clock step between two
// machines' stamps) count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if v > h.max {
		h.max = v
	}
	if v > histMaxNanos {
		v = histMaxNanos
	}
	h.counts[bucketOf(uint64(v))]++
	h.n++
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest sample, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Quantile returns the value at or below which a fraction q of the samples
// fall: the upper edge of the bucket that holds that sample (never above
// the largest sample), so it overstates by at most one bucket width.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	if rank == h.n {
		return time.Duration(h.max) // the largest sample is known exactly
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// Summary returns the histogram's percentiles in milliseconds, or nil if
// it has no samples.
func (h *Histogram) Summary() *LatencySummary {
	if h.n == 0 {
		return nil
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return &LatencySummary{
		Count: int64(h.n),
		P50:   ms(h.Quantile(0.50)),
		P90:   ms(h.Quantile(0.90)),
		P99:   ms(h.Quantile(0.99)),
		Max:   ms(h.Max()),
	}
}
