package admission

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustNew(t testing.TB, o Options) *Limiter {
	t.Helper()
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// batch admits n High requests (as many as fit), lets lat pass, releases
// them all, then lets a window pass, so the next batch's first release
// closes the window that holds this batch.
func batch(l *Limiter, c *clock, n int, lat time.Duration, failed bool) {
	var rel []func(bool)
	for range n {
		if r, ok := l.Acquire(High); ok {
			rel = append(rel, r)
		}
	}
	c.Advance(lat)
	for _, r := range rel {
		r(failed)
	}
	c.Advance(l.opt.Window)
}

func TestLimitGrowsWhileLatencyLow(t *testing.T) {
	c := newClock()
	l := mustNew(t, Options{Initial: 20, Max: 100, Now: c.Now})
	prev := l.Stats().Limit
	for i := range 40 {
		batch(l, c, prev, 10*time.Millisecond, false)
		got := l.Stats().Limit
		if got < prev || got > 100 {
			t.Fatalf("batch %d: limit %d after %d (Max 100)", i, got, prev)
		}
		prev = got
	}
	if prev != 100 {
		t.Errorf("limit %d, want it to reach Max 100", prev)
	}
	if b := l.Stats().Baseline; b != 10*time.Millisecond {
		t.Errorf("baseline %v, want 10ms", b)
	}
}

func TestLimitShrinksAboveTarget(t *testing.T) {
	c := newClock()
	l := mustNew(t, Options{Initial: 200, Min: 5, Now: c.Now})
	prev := l.Stats().Limit
	for i := range 40 {
		batch(l, c, prev, 80*time.Millisecond, false) // above the 50ms target
		got := l.Stats().Limit
		if got > prev || got < 5 {
			t.Fatalf("batch %d: limit %d after %d (Min 5)", i, got, prev)
		}
		prev = got
	}
	if prev != 5 {
		t.Errorf("limit %d, want it to reach Min 5", prev)
	}
}

// Below the target, it is the baseline times Tolerance that bounds latency.
func TestLimitFollowsBaseline(t *testing.T) {
	c := newClock()
	l := mustNew(t, Options{Initial: 20, Now: c.Now})
	run := func(n int, lat time.Duration) (first, last int) {
		first = l.Stats().Limit
		last = first
		for range n {
			batch(l, c, last, lat, false)
			last = l.Stats().Limit
		}
		return first, last
	}
	if a, b := run(5, 10*time.Millisecond); b <= a {
		t.Fatalf("10ms: limit %d -> %d, want growth", a, b)
	}
	if a, b := run(5, 14*time.Millisecond); b <= a { // within 1.5x of 10ms
		t.Fatalf("14ms: limit %d -> %d, want growth", a, b)
	}
	if a, b := run(5, 30*time.Millisecond); b >= a { // 3x baseline, under target
		t.Fatalf("30ms: limit %d -> %d, want a cut", a, b)
	}
	if a, b := run(5, 10*time.Millisecond); b <= a {
		t.Fatalf("10ms again: limit %d -> %d, want growth", a, b)
	}
}

// A service that really got slower is re-learned once the limit is at Min,
// until its latency is within Tolerance of the baseline again.
func TestBaselineRelearnedAtMin(t *testing.T) {
	c := newClock()
	l := mustNew(t, Options{Initial: 20, Now: c.Now})
	for range 5 {
		batch(l, c, l.Stats().Limit, 5*time.Millisecond, false)
	}
	for range 60 { // now 40ms: 8x the old baseline, over half the target, under the target
		batch(l, c, l.Stats().Limit, 40*time.Millisecond, false)
	}
	s := l.Stats()
	if s.Baseline*3/2 < 40*time.Millisecond || s.Limit <= 20 {
		t.Errorf("baseline %v, limit %d; want baseline*1.5 >= 40ms and the limit growing again", s.Baseline, s.Limit)
	}
}

// Latency under half the target never shrinks the limit, however far
// above the best-ever baseline: that is ordinary variance, not queueing.
func TestHalfTargetFloor(t *testing.T) {
	c := newClock()
	l := mustNew(t, Options{Initial: 20, Now: c.Now})
	for range 5 {
		batch(l, c, l.Stats().Limit, 2*time.Millisecond, false)
	}
	before := l.Stats().Limit
	for range 20 {
		batch(l, c, l.Stats().Limit, 20*time.Millisecond, false) // 10x the baseline, under 25ms
	}
	if after := l.Stats().Limit; after < before {
		t.Errorf("limit %d -> %d at 20ms with a 50ms target", before, after)
	}
}

func TestUnusedLimitDoesNotGrow(t *testing.T) {
	c := newClock()
	l := mustNew(t, Options{Initial: 20, Now: c.Now})
	for range 20 {
		batch(l, c, 9, time.Millisecond, false) // under half the limit
	}
	if got := l.Stats().Limit; got != 20 {
		t.Errorf("limit %d, want 20 while at most 9 are in flight", got)
	}
}

func TestFailures(t *testing.T) {
	c := newClock()
	l := mustNew(t, Options{Initial: 20, Now: c.Now})
	for range 10 {
		batch(l, c, 20, time.Millisecond, true)
	}
	if s := l.Stats(); s.Limit != 20 || s.Baseline != 0 || s.Failed != 200 {
		t.Errorf("after fast failures: %+v; want limit 20, no baseline, 200 failed", s)
	}
	for range 10 {
		batch(l, c, 20, 100*time.Millisecond, true)
	}
	if s := l.Stats(); s.Limit >= 20 {
		t.Errorf("after slow failures: limit %d, want a cut", s.Limit)
	}
}

func TestPriorityShedOrder(t *testing.T) {
	// Limit 20: Low may fill 14, Normal 18, High 20.
	tests := []struct {
		inflight          int
		low, normal, high bool
	}{
		{0, true, true, true},
		{13, true, true, true},
		{14, false, true, true},
		{17, false, true, true},
		{18, false, false, true},
		{19, false, false, true},
		{20, false, false, false},
	}
	for _, tt := range tests {
		var shed []Priority
		l := mustNew(t, Options{Initial: 20, Now: newClock().Now, Hooks: Hooks{
			OnShed: func(p Priority) { shed = append(shed, p) },
		}})
		for range tt.inflight {
			if _, ok := l.Acquire(High); !ok {
				t.Fatal("fill refused")
			}
		}
		want := map[Priority]bool{Low: tt.low, Normal: tt.normal, High: tt.high}
		var wantShed []Priority
		for _, p := range []Priority{Low, Normal, High} {
			rel, ok := l.Acquire(p)
			if ok != want[p] {
				t.Errorf("%d in flight: %v admitted = %v, want %v", tt.inflight, p, ok, want[p])
			}
			if !ok {
				wantShed = append(wantShed, p)
			}
			rel(false) // a no-op when refused
		}
		s := l.Stats()
		if s.InFlight != tt.inflight {
			t.Errorf("%d in flight: Stats.InFlight %d", tt.inflight, s.InFlight)
		}
		for _, p := range []Priority{Low, Normal, High} {
			if got, w := s.Shed[p], !want[p]; (got == 1) != w || got > 1 {
				t.Errorf("%d in flight: Shed[%v] = %d", tt.inflight, p, got)
			}
		}
		if len(shed) != len(wantShed) {
			t.Errorf("%d in flight: OnShed saw %v, want %v", tt.inflight, shed, wantShed)
		}
	}
}

func TestSharesAtMin(t *testing.T) {
	l := mustNew(t, Options{Initial: 1, Min: 1, Now: newClock().Now})
	if _, ok := l.Acquire(Low); !ok {
		t.Error("limit 1: Low refused with nothing in flight; each share should be at least 1")
	}
}

func TestReleaseTwice(t *testing.T) {
	l := mustNew(t, Options{Now: newClock().Now})
	r1, _ := l.Acquire(Normal)
	l.Acquire(Normal)
	r1(false)
	r1(false)
	if got := l.Stats().InFlight; got != 1 {
		t.Errorf("in flight %d after releasing one of two twice, want 1", got)
	}
}

func TestOnLimit(t *testing.T) {
	c := newClock()
	var got []int
	l := mustNew(t, Options{Initial: 16, Now: c.Now, Hooks: Hooks{OnLimit: func(n int) { got = append(got, n) }}})
	for range 3 {
		batch(l, c, 16, time.Millisecond, false)
	}
	if len(got) != 2 || got[0] != 20 || got[1] != 24 {
		t.Errorf("OnLimit saw %v, want [20 24] (16+sqrt 16, then +sqrt 20)", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want string // substring of the error; "" for none
	}{
		{"zero", Options{}, ""},
		{"min above max", Options{Min: 10, Max: 5, Initial: 7}, "Max 5 < Min 10"},
		{"initial outside", Options{Initial: 600}, "Initial 600 outside"},
		{"tolerance", Options{Tolerance: 0.5}, "Tolerance"},
		{"shares", Options{LowShare: 0.95}, "LowShare 0.95 > NormalShare 0.9"},
		{"share range", Options{NormalShare: 2}, "NormalShare 2 outside"},
		{"negative", Options{Min: -1, Window: -1}, "Window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opt)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParsePriority(t *testing.T) {
	tests := []struct {
		in   string
		want Priority
		ok   bool
	}{
		{"high", High, true},
		{" HIGH ", High, true},
		{"Normal", Normal, true},
		{"low", Low, true},
		{"", Normal, false},
		{"urgent", Normal, false},
	}
	for _, tt := range tests {
		got, ok := ParsePriority(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParsePriority(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if s := Priority(7).String(); s != "Priority(7)" {
		t.Errorf("String of an unknown priority: %q", s)
	}
}

// Run with -race. The real clock makes latencies tiny, so the limit grows;
// what matters is that the books balance and the limit is never exceeded.
func TestConcurrentUse(t *testing.T) {
	const workers, each, max = 8, 3000, 64
	l := mustNew(t, Options{Initial: 8, Max: max, Window: time.Millisecond, Hooks: Hooks{
		OnShed:  func(Priority) {},
		OnLimit: func(int) {},
	}})
	var peak atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range each {
				rel, ok := l.Acquire(Priority(r.IntN(3)))
				if !ok {
					continue
				}
				if n := int64(l.Stats().InFlight); n > peak.Load() {
					peak.Store(n)
				}
				if r.IntN(4) == 0 {
					time.Sleep(time.Microsecond)
				}
				rel(r.IntN(10) == 0)
			}
		})
	}
	wg.Wait()
	s := l.Stats()
	var shed uint64
	for _, n := range s.Shed {
		shed += n
	}
	if s.InFlight != 0 || s.Admitted+shed != workers*each {
		t.Errorf("stats %+v: want nothing in flight and admitted+shed = %d", s, workers*each)
	}
	if p := peak.Load(); p > max || p > workers {
		t.Errorf("peak in flight %d", p)
	}
	if s.Limit < 4 || s.Limit > max {
		t.Errorf("limit %d outside [4, %d]", s.Limit, max)
	}
}

func BenchmarkAcquireRelease(b *testing.B) {
	l := mustNew(b, Options{Max: 1 << 20, Initial: 1 << 20})
	b.ReportAllocs()
	for b.Loop() {
		rel, _ := l.Acquire(Normal)
		rel(false)
	}
}

func BenchmarkAcquireReleaseParallel(b *testing.B) {
	l := mustNew(b, Options{Max: 1 << 20, Initial: 1 << 20})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rel, _ := l.Acquire(Normal)
			rel(false)
		}
	})
}

func BenchmarkAcquireShed(b *testing.B) {
	l := mustNew(b, Options{Initial: 4})
	for range 4 {
		l.Acquire(High)
	}
	b.ReportAllocs()
	for b.Loop() {
		l.Acquire(Low)
	}
}

// The same with a clock that costs nothing, to separate the limiter's own
// cost from time.Now's (which is slow on some virtual machines).
func BenchmarkAcquireReleaseFakeClock(b *testing.B) {
	var n atomic.Int64
	base := time.Now()
	now := func() time.Time { return base.Add(time.Duration(n.Add(1))) }
	l := mustNew(b, Options{Max: 1 << 20, Initial: 1 << 20, Now: now})
	b.ReportAllocs()
	for b.Loop() {
		rel, _ := l.Acquire(Normal)
		rel(false)
	}
}

func BenchmarkTimeNow(b *testing.B) {
	for b.Loop() {
		time.Now()
	}
}
