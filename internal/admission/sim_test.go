package admission

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The simulated server: with up to C requests in flight each takes
// simBase; beyond that, a request admitted with n in flight takes
// simBase*n/C, so throughput never exceeds C/simBase and extra
// concurrency only adds latency.
const (
	simBase = 20 * time.Millisecond
	simSLO  = 200 * time.Millisecond
	simWarm = 5 * time.Second  // at half the capacity
	simOver = 10 * time.Second // at the load under test
)

// The offered mix of priorities, in percent.
var simMix = [numPriorities]int{Normal: 50, Low: 30, High: 20}

type simResult struct {
	offered, admitted [numPriorities]int // in the overload phase
	p99               time.Duration      // of admitted requests in the overload phase
	goodput           float64            // completed within the SLO, as a fraction of capacity
	limit             [2]int             // lowest and highest limit seen in the overload phase
}

func (r simResult) share(p Priority) float64 {
	return float64(r.admitted[p]) / float64(r.offered[p])
}

type simDone struct {
	at, arrived time.Duration
	prio        Priority
	release     func(bool)
}

type simHeap []simDone

func (h simHeap) Len() int           { return len(h) }
func (h simHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h simHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *simHeap) Push(x any)        { *h = append(*h, x.(simDone)) }
func (h *simHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// simulate offers Poisson arrivals, open loop in virtual time, to a server
// of the given capacity C: simWarm at half the capacity, then simOver at
// load times the capacity. The limiter has default Options. Without a
// limiter every request is admitted.
func simulate(t *testing.T, capacity int, load float64, limit bool) simResult {
	epoch := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var now time.Duration
	var l *Limiter
	if limit {
		l = mustNew(t, Options{Now: func() time.Time { return epoch.Add(now) }})
	}
	capRate := float64(capacity) / simBase.Seconds() // requests per second
	rng := rand.New(rand.NewPCG(1, uint64(load*10)))
	nextArrival := func(at time.Duration) time.Duration {
		rate := capRate / 2
		if at >= simWarm {
			rate = capRate * load
		}
		return at + time.Duration(rng.ExpFloat64()/rate*float64(time.Second))
	}

	var (
		res      = simResult{limit: [2]int{1 << 30, 0}}
		pending  simHeap
		inflight int
		lats     []time.Duration
		good     int
		end      = simWarm + simOver
		arrival  = nextArrival(0)
	)
	for arrival < end || len(pending) > 0 {
		if len(pending) > 0 && (arrival >= end || pending[0].at <= arrival) {
			d := heap.Pop(&pending).(simDone)
			now = d.at
			inflight--
			d.release(false)
			if d.arrived >= simWarm && d.arrived < end {
				lat := d.at - d.arrived
				lats = append(lats, lat)
				if lat <= simSLO {
					good++
				}
			}
			continue
		}
		now = arrival
		arrival = nextArrival(now)
		p := Normal
		switch n := rng.IntN(100); {
		case n < simMix[Low]:
			p = Low
		case n < simMix[Low]+simMix[High]:
			p = High
		}
		over := now >= simWarm
		if over {
			res.offered[p]++
		}
		release := noRelease
		if l != nil {
			if over {
				lim := l.Stats().Limit
				res.limit[0], res.limit[1] = min(res.limit[0], lim), max(res.limit[1], lim)
			}
			var ok bool
			if release, ok = l.Acquire(p); !ok {
				continue
			}
		}
		if over {
			res.admitted[p]++
		}
		inflight++
		svc := simBase * time.Duration(max(inflight, capacity)) / time.Duration(capacity)
		heap.Push(&pending, simDone{at: now + svc, arrived: now, prio: p, release: release})
	}
	slices.Sort(lats)
	res.p99 = lats[len(lats)*99/100]
	res.goodput = float64(good) / (capRate * simOver.Seconds())
	return res
}

// TestSimulatedOverload is the acceptance test, in virtual time:
// at 2x and 5x the sustainable load, admitted requests keep a p99 within
// 3x the unloaded latency and the server still completes at least 80% of
// its capacity within the SLO, while without the limiter the p99 runs away.
func TestSimulatedOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates about a million requests")
	}
	for _, tt := range []struct {
		capacity int
		load     float64
	}{{50, 2}, {50, 5}, {10, 2}, {300, 2}} {
		load := tt.load
		with := simulate(t, tt.capacity, load, true)
		without := simulate(t, tt.capacity, load, false)
		t.Logf("C=%d, %gx capacity: limiter: p99 %v, goodput %.0f%%, admitted high %.0f%% normal %.0f%% low %.0f%%, limit %d..%d",
			tt.capacity, load, with.p99, 100*with.goodput, 100*with.share(High), 100*with.share(Normal), 100*with.share(Low), with.limit[0], with.limit[1])
		t.Logf("C=%d, %gx capacity: no limiter: p99 %v, goodput %.0f%%", tt.capacity, load, without.p99, 100*without.goodput)

		if with.p99 > 3*simBase {
			t.Errorf("%gx: p99 of admitted requests %v, want at most 3x the unloaded %v", load, with.p99, simBase)
		}
		if with.goodput < 0.8 {
			t.Errorf("%gx: goodput %.2f of capacity, want at least 0.8", load, with.goodput)
		}
		if without.p99 < 10*with.p99 {
			t.Errorf("%gx: p99 %v without the limiter, %v with; want the limiter to cut it at least tenfold", load, without.p99, with.p99)
		}
		if !(with.share(High) > with.share(Normal) && with.share(Normal) > with.share(Low)) {
			t.Errorf("%gx: admitted shares high %.2f normal %.2f low %.2f; want them in that order",
				load, with.share(High), with.share(Normal), with.share(Low))
		}
	}
}
