package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	// Every value maps to a bucket whose upper edge is at or above it and
	// whose predecessor's edge is below it; buckets never overlap.
	prevHigh := int64(-1)
	for i := 0; i < histBuckets; i++ {
		high := bucketHigh(i)
		if high <= prevHigh {
			t.Fatalf("bucket %d ends at %d, the one before at %d", i, high, prevHigh)
		}
		for _, v := range []int64{prevHigh + 1, high} {
			if got := bucketOf(uint64(v)); got != i {
				t.Fatalf("value %d in bucket %d, want %d", v, got, i)
			}
		}
		prevHigh = high
	}
	if prevHigh != histMaxNanos {
		t.Errorf("last bucket ends at %d, want %d", prevHigh, histMaxNanos)
	}
}

func TestQuantilesWithinBucketError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func() time.Duration
	}{
		{"uniform 0-10ms", func() time.Duration { return time.Duration(rng.Int64N(int64(10 * time.Millisecond))) }},
		{"exponential", func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(time.Millisecond)) }},
		{"small", func() time.Duration { return time.Duration(rng.Int64N(300)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			samples := make([]time.Duration, 20000)
			for i := range samples {
				samples[i] = tc.gen()
				h.Record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				exact := samples[max(int(q*float64(len(samples))+0.5), 1)-1]
				got := h.Quantile(q)
				// At or above the exact value, by at most one bucket (1/128).
				if got < exact || float64(got-exact) > float64(exact)/histSub+1 {
					t.Errorf("q%.3f = %v, exact %v", q, got, exact)
				}
			}
			if h.Max() != samples[len(samples)-1] || h.Count() != uint64(len(samples)) {
				t.Errorf("max %v count %d, want %v %d", h.Max(), h.Count(), samples[len(samples)-1], len(samples))
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Summary() != nil || h.Quantile(0.5) != 0 {
		t.Error("an empty histogram has a summary")
	}
	h.Record(-time.Second) // a clock step
	h.Record(time.Hour)    // beyond the last bucket: clamped, max exact
	if h.Count() != 2 || h.Max() != time.Hour || h.Quantile(0.5) != 0 || h.Quantile(1) != time.Hour {
		t.Errorf("count %d max %v p50 %v p100 %v", h.Count(), h.Max(), h.Quantile(0.5), h.Quantile(1))
	}
	var m Histogram
	m.Record(3 * time.Millisecond)
	m.Merge(&h)
	if s := m.Summary(); s.Count != 3 || s.Max != 3600000 {
		t.Errorf("merged summary %+v", s)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(1234 * time.Microsecond) }); n != 0 {
		t.Errorf("Record allocates %v times", n)
	}
}
