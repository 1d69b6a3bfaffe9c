package analytics

import (
	"math"
	"slices"
	"time"
)

// Sketch is a mergeable latency histogram with log-spaced buckets: bucket i
// holds durations in (γ^(i-1), γ^i] microseconds, γ = 1.02, and reports the
// value 2γ^i/(γ+1). A quantile read from it is within ±1% (relative,
// (γ-1)/(γ+1) = 0.99%) of the true nearest-rank quantile, for durations from
// 1µs to 1h; shorter durations count as 1µs, longer ones as 1h. It holds
// only the non-empty buckets (a few hundred at most). The zero value is
// empty. A Sketch is not safe for concurrent use.
type Sketch struct {
	counts map[uint16]uint64
	n      uint64
}

const (
	sketchGamma = 1.02
	sketchMaxUS = 3600e6 // 1h in µs
)

var sketchLogGamma = math.Log(sketchGamma)

func sketchIndex(d time.Duration) uint16 {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	us = min(us, sketchMaxUS)
	return uint16(math.Ceil(math.Log(us) / sketchLogGamma))
}

func sketchValue(i uint16) time.Duration {
	if i == 0 {
		return time.Microsecond
	}
	us := 2 * math.Pow(sketchGamma, float64(i)) / (sketchGamma + 1)
	return time.Duration(us * float64(time.Microsecond))
}

// Add counts one duration.
func (s *Sketch) Add(d time.Duration) {
	if s.counts == nil {
		s.counts = map[uint16]uint64{}
	}
	s.counts[sketchIndex(d)]++
	s.n++
}

// Merge adds every count of o to s.
func (s *Sketch) Merge(o *Sketch) {
	if o == nil || o.n == 0 {
		return
	}
	if s.counts == nil {
		s.counts = make(map[uint16]uint64, len(o.counts))
	}
	for i, c := range o.counts {
		s.counts[i] += c
	}
	s.n += o.n
}

// Count is the number of durations added.
func (s *Sketch) Count() uint64 { return s.n }

// Quantile returns the nearest-rank q-quantile (0 < q <= 1), within the
// error bound above, and false when the sketch is empty.
func (s *Sketch) Quantile(q float64) (time.Duration, bool) {
	if s.n == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(s.n)))
	rank = max(1, min(rank, s.n))
	keys := make([]uint16, 0, len(s.counts))
	for i := range s.counts {
		keys = append(keys, i)
	}
	slices.Sort(keys)
	var seen uint64
	for _, i := range keys {
		seen += s.counts[i]
		if seen >= rank {
			return sketchValue(i), true
		}
	}
	return sketchValue(keys[len(keys)-1]), true
}
