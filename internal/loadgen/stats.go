package loadgen

import (
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// recorder collects counts and latency samples from the scheduler and the
// senders. All methods are safe for concurrent use.
type recorder struct {
	mu sync.Mutex

	// After the warmup only: these make the Result, and one per phase its
	// Phases.
	total  tally
	phases []tally

	// Whole run, warmup included: these feed the progress lines.
	all    progressSnap
	window []time.Duration // latencies completed since the last snapshot
}

// tally is what a Result is made of.
type tally struct {
	nSent, nOK, nErrors, nLate int64
	latencies, okLatencies     []time.Duration
	errorsByStatus             map[int]int64
	fallbacks                  map[string]int64
	degraded                   int64
	accepted                   int64
	probes, visible            int64
	fresh                      []time.Duration
}

func newTally() tally {
	return tally{errorsByStatus: map[int]int64{}, fallbacks: map[string]int64{}}
}

type progressSnap struct {
	sent, ok, errors, late int64
	window                 []time.Duration
}

// newRecorder returns a recorder for a run with phases phases (0: none).
func newRecorder(phases int) *recorder {
	c := &recorder{total: newTally()}
	for range phases {
		c.phases = append(c.phases, newTally())
	}
	return c
}

// each calls f on the whole run's tally and on phase's, if any.
func (c *recorder) each(phase int, f func(t *tally)) {
	f(&c.total)
	if phase >= 0 && phase < len(c.phases) {
		f(&c.phases[phase])
	}
}

func (c *recorder) sent(measured bool, phase int) {
	c.mu.Lock()
	c.all.sent++
	if measured {
		c.each(phase, func(t *tally) { t.nSent++ })
	}
	c.mu.Unlock()
}

func (c *recorder) late(measured bool, phase int) {
	c.mu.Lock()
	c.all.late++
	if measured {
		c.each(phase, func(t *tally) { t.nLate++ })
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
	c.each(o.phase, func(t *tally) { t.add(o) })
}

func (t *tally) add(o outcome) {
	t.latencies = append(t.latencies, o.latency)
	if o.ok {
		t.nOK++
		t.okLatencies = append(t.okLatencies, o.latency)
	} else {
		t.nErrors++
		t.errorsByStatus[o.status]++
	}
	if o.hasFallback {
		t.degraded++
		for name := range strings.SplitSeq(o.fallback, ",") {
			t.fallbacks[name]++
		}
	}
	t.accepted += o.accepted
	if o.probe {
		t.probes++
		if o.visible {
			t.visible++
			t.fresh = append(t.fresh, o.fresh)
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

// result summarises the measured part of a run that lasted measured, with
// one Result per phase of o.Phases (each lasting its share of measured).
func (c *recorder) result(o Options, measured time.Duration) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.total.result(o, measured)
	for i := range c.phases {
		end := measured
		if i+1 < len(o.Phases) {
			end = min(o.Phases[i+1].At, measured)
		}
		p := c.phases[i].result(o, max(end-min(o.Phases[i].At, measured), 0))
		p.Phase = o.Phases[i].Name
		r.Phases = append(r.Phases, p)
	}
	return r
}

func (t *tally) result(o Options, measured time.Duration) Result {
	r := Result{
		Scenario:       o.Scenario,
		Rate:           o.Rate,
		Duration:       measured,
		Warmup:         o.Warmup,
		MaxInFlight:    o.MaxInFlight,
		Sent:           t.nSent,
		OK:             t.nOK,
		Errors:         t.nErrors,
		Late:           t.nLate,
		ErrorsByStatus: maps.Clone(t.errorsByStatus),
		Fallbacks:      maps.Clone(t.fallbacks),
		Degraded:       t.degraded,
		Accepted:       t.accepted,
		Samples:        int64(len(t.latencies)),
	}
	if s := measured.Seconds(); s > 0 {
		r.Throughput = float64(t.nOK) / s
		r.EventsPerSec = float64(t.accepted) / s
	}
	lat := slices.Clone(t.latencies)
	slices.Sort(lat)
	r.P50, r.P95, r.P99, r.P999 = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99), percentile(lat, 0.999)
	r.Max = percentile(lat, 1)
	ok := slices.Clone(t.okLatencies)
	slices.Sort(ok)
	r.OKP50, r.OKP95, r.OKP99, r.OKMax = percentile(ok, 0.50), percentile(ok, 0.95), percentile(ok, 0.99), percentile(ok, 1)
	if o.Scenario == ScenarioFreshness {
		fresh := slices.Clone(t.fresh)
		slices.Sort(fresh)
		r.Freshness = &FreshnessResult{
			Probes:     t.probes,
			Visible:    t.visible,
			NotVisible: t.probes - t.visible,
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
