package admission

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Priority orders requests for shedding: Low is refused first, High last.
// The zero value is Normal.
type Priority uint8

// The priorities. Values outside these are treated as Normal.
const (
	Normal Priority = iota
	Low
	High
)

const numPriorities = 3

// String returns "normal", "low" or "high".
func (p Priority) String() string {
	switch p {
	case Normal:
		return "normal"
	case Low:
		return "low"
	case High:
		return "high"
	}
	return "Priority(" + strconv.Itoa(int(p)) + ")"
}

// ParsePriority parses "high", "normal" or "low", ignoring case and
// surrounding space. It reports false, with Normal, for anything else.
func ParsePriority(s string) (Priority, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "high":
		return High, true
	case "normal":
		return Normal, true
	case "low":
		return Low, true
	}
	return Normal, false
}

func (p Priority) index() int {
	if p >= numPriorities {
		return int(Normal)
	}
	return int(p)
}

// Hooks observe a Limiter. Each must be fast and safe for concurrent use;
// none may call back into the Limiter.
type Hooks struct {
	// OnShed is called for each refused request, on the caller's goroutine.
	OnShed func(p Priority)
	// OnLimit is called after the limit changes, with the new limit.
	OnLimit func(limit int)
}

// Options configure a Limiter. The zero value is usable.
type Options struct {
	Initial int // starting limit; 0 means 20
	Min     int // the limit never drops below; 0 means 4
	Max     int // the limit never rises above; 0 means 500

	// TargetLatency is the window p90 above which the limit always shrinks,
	// whatever the baseline. It must exceed the service's unloaded latency,
	// or the limit will sit at Min. 0 means 50ms.
	TargetLatency time.Duration
	// Tolerance is how far the window p90 may rise above the baseline
	// (no-queue) latency before the limit shrinks: 1.5 allows 50%; the
	// threshold is never below TargetLatency/2. 0 means 1.5; it must be at
	// least 1.
	Tolerance float64
	// Window is how often the limit is reconsidered. 0 means 250ms.
	Window time.Duration
	// MinSamples is how many completions a window needs before it counts;
	// a window with fewer is extended. 0 means 10.
	MinSamples int

	// LowShare and NormalShare are the fractions of the limit that Low and
	// Normal requests may fill; High may fill all of it. 0 means 0.7 and
	// 0.9. Each must be in (0, 1], and LowShare <= NormalShare. The limit
	// grows only in windows that used half of it, so traffic of a priority
	// whose share is under 0.5 cannot raise the limit on its own.
	LowShare    float64
	NormalShare float64

	Now   func() time.Time // nil means time.Now
	Hooks Hooks
}

func (o Options) withDefaults() Options {
	if o.Initial == 0 {
		o.Initial = 20
	}
	if o.Min == 0 {
		o.Min = 4
	}
	if o.Max == 0 {
		o.Max = 500
	}
	if o.TargetLatency == 0 {
		o.TargetLatency = 50 * time.Millisecond
	}
	if o.Tolerance == 0 {
		o.Tolerance = 1.5
	}
	if o.Window == 0 {
		o.Window = 250 * time.Millisecond
	}
	if o.MinSamples == 0 {
		o.MinSamples = 10
	}
	if o.LowShare == 0 {
		o.LowShare = 0.7
	}
	if o.NormalShare == 0 {
		o.NormalShare = 0.9
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Min < 1 {
		errs = append(errs, fmt.Errorf("Min %d < 1", o.Min))
	}
	if o.Max < o.Min {
		errs = append(errs, fmt.Errorf("Max %d < Min %d", o.Max, o.Min))
	}
	if o.Initial < o.Min || o.Initial > o.Max {
		errs = append(errs, fmt.Errorf("Initial %d outside [Min %d, Max %d]", o.Initial, o.Min, o.Max))
	}
	if o.TargetLatency < 0 {
		errs = append(errs, fmt.Errorf("TargetLatency %v < 0", o.TargetLatency))
	}
	if !(o.Tolerance >= 1) {
		errs = append(errs, fmt.Errorf("Tolerance %v < 1", o.Tolerance))
	}
	if o.Window < 0 {
		errs = append(errs, fmt.Errorf("Window %v < 0", o.Window))
	}
	if o.MinSamples < 1 {
		errs = append(errs, fmt.Errorf("MinSamples %d < 1", o.MinSamples))
	}
	if !(o.LowShare > 0 && o.LowShare <= 1) {
		errs = append(errs, fmt.Errorf("LowShare %v outside (0, 1]", o.LowShare))
	}
	if !(o.NormalShare > 0 && o.NormalShare <= 1) {
		errs = append(errs, fmt.Errorf("NormalShare %v outside (0, 1]", o.NormalShare))
	}
	if o.LowShare > o.NormalShare {
		errs = append(errs, fmt.Errorf("LowShare %v > NormalShare %v", o.LowShare, o.NormalShare))
	}
	return errors.Join(errs...)
}

// reservoirSize bounds the latencies kept per window; beyond it, samples
// are replaced at random so the window's percentiles stay unbiased.
const reservoirSize = 512

// Limiter admits or refuses requests against an adaptive concurrency
// limit. All methods are safe for concurrent use.
type Limiter struct {
	opt Options

	inflight atomic.Int64
	limit    atomic.Int64
	ceil     [numPriorities]atomic.Int64 // admission ceiling by priority, from limit
	peak     atomic.Int64                // most in flight during the current window
	admitted atomic.Uint64
	failed   atomic.Uint64
	shed     [numPriorities]atomic.Uint64

	mu       sync.Mutex // guards the fields below
	limitF   float64    // the limit before rounding down
	start    time.Time  // of the current window; zero before the first sample
	samples  []time.Duration
	seen     int    // samples offered this window (for reservoir sampling)
	rng      uint64 // xorshift state
	baseline time.Duration
	p90      time.Duration // of the last closed window
}

// New returns a Limiter at its initial limit. It starts no goroutines.
func New(opt Options) (*Limiter, error) {
	opt = opt.withDefaults()
	if err := opt.validate(); err != nil {
		return nil, fmt.Errorf("admission options: %w", err)
	}
	l := &Limiter{
		opt:     opt,
		limitF:  float64(opt.Initial),
		samples: make([]time.Duration, 0, reservoirSize),
		rng:     0x9e3779b97f4a7c15,
	}
	l.publish()
	return l, nil
}

func noRelease(bool) {}

// Acquire admits a request of priority p if fewer than p's share of the
// limit are in flight, and returns ok. It never blocks. If admitted, the
// caller must call release exactly once when the request is done, with
// whether it failed; the latency from Acquire to release adapts the limit,
// and calls after the first are ignored. If refused, release is a no-op
// and the caller should shed the request.
func (l *Limiter) Acquire(p Priority) (release func(failed bool), ok bool) {
	i := p.index()
	ceil := l.ceil[i].Load()
	for {
		n := l.inflight.Load()
		if n >= ceil {
			l.shed[i].Add(1)
			if h := l.opt.Hooks.OnShed; h != nil {
				h(p)
			}
			return noRelease, false
		}
		if l.inflight.CompareAndSwap(n, n+1) {
			for m := l.peak.Load(); n+1 > m && !l.peak.CompareAndSwap(m, n+1); m = l.peak.Load() {
			}
			break
		}
	}
	l.admitted.Add(1)
	start := l.opt.Now()
	var done atomic.Bool
	return func(failed bool) {
		if done.Swap(true) {
			return
		}
		now := l.opt.Now()
		l.inflight.Add(-1)
		l.record(now, now.Sub(start), failed)
	}, true
}

// record adds one completion and, at the end of a window, adapts the limit.
func (l *Limiter) record(now time.Time, d time.Duration, failed bool) {
	if failed {
		l.failed.Add(1)
	}
	l.mu.Lock()
	if l.start.IsZero() {
		l.start = now
	}
	if !failed || d > l.threshold() {
		l.seen++
		if len(l.samples) < reservoirSize {
			l.samples = append(l.samples, d)
		} else if j := l.rand() % uint64(l.seen); j < reservoirSize {
			l.samples[j] = d
		}
	}
	before, after := int(l.limit.Load()), 0
	if now.Sub(l.start) >= l.opt.Window && len(l.samples) >= l.opt.MinSamples {
		l.adapt()
		after = int(l.limit.Load())
		l.start = now
		l.samples = l.samples[:0]
		l.seen = 0
		l.peak.Store(l.inflight.Load())
	}
	l.mu.Unlock()
	if after != 0 && after != before {
		if h := l.opt.Hooks.OnLimit; h != nil {
			h(after)
		}
	}
}

// adapt closes a window: see the package comment. l.mu is held.
func (l *Limiter) adapt() {
	s := l.samples
	slices.Sort(s)
	p10 := s[len(s)*10/100]
	p90 := s[min(len(s)-1, len(s)*90/100)]
	l.p90 = p90

	unused := float64(l.peak.Load()) < l.limitF/2
	switch {
	case l.baseline == 0 || p10 < l.baseline:
		l.baseline = p10
	case unused || int(l.limitF) <= l.opt.Min:
		l.baseline += (p10 - l.baseline) / 4
	}

	if thr := l.threshold(); p90 > thr {
		g := float64(thr) / float64(p90)
		l.limitF *= min(max(g, 0.5), 0.9)
	} else if !unused {
		l.limitF += math.Sqrt(l.limitF)
	}
	l.limitF = min(max(l.limitF, float64(l.opt.Min)), float64(l.opt.Max))
	l.publish()
}

// threshold is the p90 above which the limit shrinks. l.mu is held.
func (l *Limiter) threshold() time.Duration {
	if l.baseline == 0 {
		return l.opt.TargetLatency
	}
	// Never below half the target: a baseline from the best moments (a
	// fast fsync, no GC) times a small tolerance is within ordinary
	// variance, and the limit would sit at Min without any overload.
	return min(l.opt.TargetLatency, max(time.Duration(float64(l.baseline)*l.opt.Tolerance), l.opt.TargetLatency/2))
}

// publish stores the rounded limit and the ceilings derived from it.
func (l *Limiter) publish() {
	lim := int64(l.limitF)
	share := func(f float64) int64 { return max(1, int64(float64(lim)*f)) }
	l.ceil[Low].Store(share(l.opt.LowShare))
	l.ceil[Normal].Store(share(l.opt.NormalShare))
	l.ceil[High].Store(lim)
	l.limit.Store(lim)
}

func (l *Limiter) rand() uint64 {
	x := l.rng
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	l.rng = x
	return x
}

// Stats is a snapshot of a Limiter.
type Stats struct {
	Limit    int           // current concurrency limit
	InFlight int           // admitted and not yet released
	Admitted uint64        // requests admitted, ever
	Failed   uint64        // admitted requests released as failed
	Shed     [3]uint64     // requests refused, indexed by Priority
	Baseline time.Duration // learned no-queue latency; 0 before the first window
	P90      time.Duration // latency p90 of the last closed window
}

// Stats returns current figures. The counters are read one at a time, so
// they may be mutually inconsistent by a few in-progress requests.
func (l *Limiter) Stats() Stats {
	s := Stats{
		Limit:    int(l.limit.Load()),
		InFlight: int(l.inflight.Load()),
		Admitted: l.admitted.Load(),
		Failed:   l.failed.Load(),
	}
	for i := range s.Shed {
		s.Shed[i] = l.shed[i].Load()
	}
	l.mu.Lock()
	s.Baseline, s.P90 = l.baseline, l.p90
	l.mu.Unlock()
	return s
}
