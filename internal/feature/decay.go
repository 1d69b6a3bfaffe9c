package feature

import (
	"math"
	"slices"
)

// Decayed is an exponentially time-decayed sum: V is the value as of time T
// (Unix ms). Adding in event time keeps replays deterministic; reading decays
// the value to the reader's clock.
type Decayed struct {
	V float64
	T int64
}

// Add adds w at time t with half-life hl (ms). Out-of-order additions are
// decayed to the current reference time instead of moving it back.
func (d *Decayed) Add(w float64, t int64, hl float64) {
	switch {
	case d.T == 0 && d.V == 0:
		d.V, d.T = w, t
	case t >= d.T:
		d.V = d.V*decayFactor(t-d.T, hl) + w
		d.T = t
	default:
		d.V += w * decayFactor(d.T-t, hl)
	}
}

// At returns the value decayed to time now (never grown when now < T).
func (d Decayed) At(now int64, hl float64) float64 {
	if now <= d.T {
		return d.V
	}
	return d.V * decayFactor(now-d.T, hl)
}

func decayFactor(dt int64, hl float64) float64 {
	if hl <= 0 {
		return 1
	}
	return math.Exp2(-float64(dt) / hl)
}

// Merge returns the sum of d and o as of the later of their reference
// times: both decayed to it with half-life hl (ms), then added. When d and o
// hold the additions of two disjoint streams of events (two partitions of a
// log), the result is what one Decayed that saw both holds, up to rounding.
// The zero Decayed is empty. Merge is commutative, bit for bit.
func (d Decayed) Merge(o Decayed, hl float64) Decayed {
	return SumDecayed([]Decayed{d, o}, hl)
}

// SumDecayed merges any number of values as Merge does. The result does not
// depend on their order, bit for bit: every value is decayed to the latest
// reference time on its own and the terms are added smallest first.
func SumDecayed(ds []Decayed, hl float64) Decayed {
	var t int64
	found := false
	for _, d := range ds {
		if d != (Decayed{}) && (!found || d.T > t) {
			t, found = d.T, true
		}
	}
	if !found {
		return Decayed{}
	}
	var buf [8]float64
	terms := buf[:0]
	for _, d := range ds {
		if d != (Decayed{}) {
			terms = append(terms, d.V*decayFactor(t-d.T, hl))
		}
	}
	slices.Sort(terms)
	var v float64
	for _, x := range terms {
		v += x
	}
	return Decayed{V: v, T: t}
}
