package loadgen

import (
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// recorder collects counts and latency samples from the scheduler and the
// senders. All methods are safe for concurrent use.
type recorder struct {
	mu sync.Mutex

	// After the warmup only: these make the Result.
	nSent, nOK, nErrors, nLate int64
	latencies                  []time.Duration
	errorsByStatus             map[int]int64
	fallbacks                  map[string]int64
	accepted                   int64
	probes, visible            int64
	fresh                      []time.Duration

	// Whole run, warmup included: these feed the progress lines.
	all    progressSnap
	window []time.Duration // latencies completed since the last snapshot
}

type progressSnap struct {
	sent, ok, errors, late int64
	window                 []time.Duration
}

func newRecorder() *recorder {
	return &recorder{errorsByStatus: map[int]int64{}, fallbacks: map[string]int64{}}
}

func (c *recorder) sent(measured bool) {
	c.mu.Lock()
	c.all.sent++
	if measured {
		c.nSent++
	}
	c.mu.Unlock()
}

func (c *recorder) late(measured bool) {
	c.mu.Lock()
	c.all.late++
	if measured {
		c.nLate++
	}
	c.mu.Unlock()
}

func (c *recorder) done(o outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.window = append(c.window, o.latency)
	if o.ok {
		c.all.ok++
	} else {
		c.all.errors++
	}
	if !o.measured {
		return
	}
	c.latencies = append(c.latencies, o.latency)
	if o.ok {
		c.nOK++
	} else {
		c.nErrors++
		c.errorsByStatus[o.status]++
	}
	if o.hasFallback {
		c.fallbacks[o.fallback]++
	}
	c.accepted += o.accepted
	if o.probe {
		c.probes++
		if o.visible {
			c.visible++
			c.fresh = append(c.fresh, o.fresh)
		}
	}
}

// snapshot returns the whole-run counts and takes the latency window.
// The returned window is sorted and owned by the caller.
func (c *recorder) snapshot() progressSnap {
	c.mu.Lock()
	p := c.all
	p.window, c.window = c.window, nil
	c.mu.Unlock()
	slices.Sort(p.window)
	return p
}

// result summarises the measured part of a run that lasted measured.
func (c *recorder) result(o Options, measured time.Duration) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Result{
		Scenario:       o.Scenario,
		Rate:           o.Rate,
		Duration:       measured,
		Warmup:         o.Warmup,
		MaxInFlight:    o.MaxInFlight,
		Sent:           c.nSent,
		OK:             c.nOK,
		Errors:         c.nErrors,
		Late:           c.nLate,
		ErrorsByStatus: maps.Clone(c.errorsByStatus),
		Fallbacks:      maps.Clone(c.fallbacks),
		Accepted:       c.accepted,
		Samples:        int64(len(c.latencies)),
	}
	if s := measured.Seconds(); s > 0 {
		r.Throughput = float64(c.nOK) / s
		r.EventsPerSec = float64(c.accepted) / s
	}
	lat := slices.Clone(c.latencies)
	slices.Sort(lat)
	r.P50, r.P95, r.P99, r.P999 = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99), percentile(lat, 0.999)
	r.Max = percentile(lat, 1)
	if o.Scenario == ScenarioFreshness {
		fresh := slices.Clone(c.fresh)
		slices.Sort(fresh)
		r.Freshness = &FreshnessResult{
			Probes:     c.probes,
			Visible:    c.visible,
			NotVisible: c.probes - c.visible,
			P50:        percentile(fresh, 0.50),
			P95:        percentile(fresh, 0.95),
			P99:        percentile(fresh, 0.99),
			Max:        percentile(fresh, 1),
		}
	}
	return r
}

// percentile returns the nearest-rank q-quantile (0 < q <= 1) of sorted:
// the smallest sample with at least a fraction q of all samples at or below
// it. It returns 0 for no samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The epsilon keeps 0.07*100 = 7.000000000000001 from ranking 8th.
	rank := int(math.Ceil(q*float64(n) - 1e-9))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}
