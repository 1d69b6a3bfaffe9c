package feature

import "math"

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
