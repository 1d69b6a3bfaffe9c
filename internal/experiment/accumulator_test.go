package experiment

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()

const minute = int64(60 * 1000)

func imp(req, user, exp, variant string, at int64) *event.Record {
	return &event.Record{Kind: event.KindImpression, Impression: event.Impression{RequestID: req, UserID: user,
		Experiment: exp, Variant: variant, Time: at}}
}

func ev(typ event.Type, user, req string, at int64, price float64, qty int32) *event.Record {
	return &event.Record{Kind: event.KindEvent, Event: event.Event{Type: typ, UserID: user, RequestID: req, Time: at,
		Price: price, Quantity: qty, ProductID: "p"}}
}

var abExp = &Experiment{ID: "ab", Variants: []Variant{{Name: "control", Weight: 1}, {Name: "test", Weight: 1}}}

func variant(r ResultsJSON, name string) VariantResult {
	for _, v := range r.Variants {
		if v.Name == name {
			return v
		}
	}
	return VariantResult{}
}

func TestAttributionByRequestID(t *testing.T) {
	a := NewAccumulator(Options{})
	a.Apply(imp("r1", "u1", "ab", "control", t0))
	a.Apply(imp("r2", "u1", "ab", "control", t0+minute))
	a.Apply(imp("r3", "u2", "ab", "test", t0))
	a.Apply(ev(event.Click, "u1", "r1", t0+1000, -1, 1))
	a.Apply(ev(event.Click, "u1", "r1", t0+2000, -1, 1)) // same list: one clicked list
	a.Apply(ev(event.AddToCart, "u1", "r1", t0+3000, 10, 1))
	a.Apply(ev(event.Purchase, "u1", "r1", t0+4000, 10, 3))
	a.Apply(ev(event.Click, "u2", "r3", t0+1000, -1, 1))
	a.Apply(ev(event.View, "u2", "r3", t0+1000, -1, 1)) // views are not outcomes
	r := a.Results(abExp, time.UnixMilli(t0))
	c, tr := variant(r, "control"), variant(r, "test")
	if c.Users != 1 || c.Impressions != 2 || c.ClickedImpressions != 1 || c.Clicks != 2 || c.AddToCartImpressions != 1 ||
		c.PurchasedImpressions != 1 || c.Orders != 1 || c.Revenue != 30 || c.CTR != 0.5 || c.AverageOrderValue != 30 || c.RevenuePerUser != 30 {
		t.Fatalf("control %+v", c)
	}
	if tr.Users != 1 || tr.Impressions != 1 || tr.ClickedImpressions != 1 || tr.CTR != 1 {
		t.Fatalf("test %+v", tr)
	}
}

func TestAttributionByUserWithinWindow(t *testing.T) {
	a := NewAccumulator(Options{Window: time.Hour})
	a.Apply(imp("r1", "u1", "ab", "test", t0))
	a.Apply(imp("r2", "u1", "ab", "test", t0+10*minute))
	a.Apply(ev(event.Click, "u1", "", t0+20*minute, -1, 1))   // latest exposure: r2
	a.Apply(ev(event.Purchase, "u1", "", t0+65*minute, 5, 1)) // 55 min after r2: in
	a.Apply(ev(event.Purchase, "u1", "", t0+71*minute, 7, 1)) // 61 min after r2: out
	a.Apply(ev(event.Click, "u2", "", t0+20*minute, -1, 1))   // never exposed
	a.Apply(ev(event.Click, "u1", "", t0+5*minute, -1, 1))    // before the latest exposure: not attributed
	r := a.Results(abExp, time.UnixMilli(t0))
	v := variant(r, "test")
	if v.Impressions != 2 || v.ClickedImpressions != 1 || v.Clicks != 1 || v.Orders != 1 || v.Revenue != 5 || v.PurchasedImpressions != 1 {
		t.Fatalf("test %+v", v)
	}
}

func TestEventsBeforeTheirImpression(t *testing.T) {
	a := NewAccumulator(Options{PendingTTL: 10 * time.Minute})
	a.Apply(ev(event.Purchase, "u1", "", t0-time.Hour.Milliseconds(), 20, 1)) // pre-period behaviour
	a.Apply(ev(event.Click, "u1", "r1", t0+1000, -1, 1))
	a.Apply(ev(event.Purchase, "u1", "r1", t0+2000, 12, 2))
	a.Apply(ev(event.Click, "u9", "lost", t0+2000, -1, 1)) // its impression never comes
	if s := a.Stats(); s.Pending != 3 {
		t.Fatalf("pending %d, want 3", s.Pending)
	}
	a.Apply(imp("r1", "u1", "ab", "control", t0))
	c := variant(a.Results(abExp, time.UnixMilli(t0)), "control")
	if c.ClickedImpressions != 1 || c.Orders != 1 || c.Revenue != 24 || c.PurchasedImpressions != 1 {
		t.Fatalf("control %+v", c)
	}
	// The events answering r1 are not pre-period behaviour; the earlier
	// purchase is.
	if c.PreRevenuePerUser != 20 {
		t.Fatalf("pre revenue %v, want 20", c.PreRevenuePerUser)
	}
	// Time moves on: the lost click expires (after its TTL plus the
	// attribution window of slack for partitions applied at other speeds).
	late := t0 + 20*minute + 24*time.Hour.Milliseconds()
	a.Apply(ev(event.View, "u9", "", late, -1, 1))
	if s := a.Stats(); s.Pending != 0 {
		t.Fatalf("pending %d after TTL, want 0", s.Pending)
	}
	a.Apply(imp("lost", "u9", "ab", "test", late+minute))
	if v := variant(a.Results(abExp, time.UnixMilli(t0)), "test"); v.ClickedImpressions != 0 || v.Impressions != 1 {
		t.Fatalf("expired event attributed: %+v", v)
	}
}

func TestPendingBounded(t *testing.T) {
	a := NewAccumulator(Options{MaxPending: 10})
	for i := range 100 {
		a.Apply(ev(event.Click, "u", fmt.Sprintf("r%d", i), t0, -1, 1))
	}
	if s := a.Stats(); s.Pending != 10 {
		t.Fatalf("pending %d, want 10", s.Pending)
	}
	a.Apply(imp("r99", "u", "ab", "test", t0)) // the newest survived
	if v := variant(a.Results(abExp, time.UnixMilli(t0)), "test"); v.ClickedImpressions != 1 {
		t.Fatalf("%+v", v)
	}
}

func TestExposuresEvictedAfterWindow(t *testing.T) {
	a := NewAccumulator(Options{Window: time.Hour})
	for i := range 100 {
		a.Apply(imp(fmt.Sprintf("r%d", i), fmt.Sprintf("u%d", i%7), "ab", "test", t0+int64(i)*minute))
	}
	// Kept for two windows (attribution needs one; the second absorbs
	// partitions applied at different speeds).
	if s := a.Stats(); s.Exposures > 121 || s.Exposures < 100 {
		t.Fatalf("exposures %d, want the last two hours'", s.Exposures)
	}
	for i := 100; i < 200; i++ {
		a.Apply(imp(fmt.Sprintf("r%d", i), fmt.Sprintf("u%d", i%7), "ab", "test", t0+int64(i)*minute))
	}
	if s := a.Stats(); s.Exposures > 121 {
		t.Fatalf("exposures %d, want at most the last two hours'", s.Exposures)
	}
	// A click on an evicted list is not attributed (it waits, then expires),
	// nor one on a list still kept but older than the window.
	a.Apply(ev(event.Click, "u0", "r0", t0+200*minute, -1, 1))
	a.Apply(ev(event.Click, "u2", "r100", t0+200*minute, -1, 1))
	if v := variant(a.Results(abExp, time.UnixMilli(t0)), "test"); v.ClickedImpressions != 0 || v.Users != 7 || v.Impressions != 200 {
		t.Fatalf("%+v", v)
	}
}

func TestDistinctUsersAndExclusions(t *testing.T) {
	e := &Experiment{ID: "ab", Variants: abExp.Variants, Forced: map[string]string{"qa": "test"}}
	a := NewAccumulator(Options{})
	for i := range 30 {
		a.Apply(imp(fmt.Sprintf("r%d", i), fmt.Sprintf("u%d", i%3), "ab", "control", t0))
	}
	a.Apply(imp("m1", "multi", "ab", "control", t0))
	a.Apply(imp("m2", "multi", "ab", "test", t0))
	a.Apply(imp("q1", "qa", "ab", "test", t0))
	a.Apply(imp("x1", "ghost", "ab", "gone", t0))
	a.Apply(imp("o1", "u1", "other", "a", t0))
	a.Apply(imp("n1", "u1", "", "", t0)) // not in an experiment
	r := a.Results(e, time.UnixMilli(t0))
	if c := variant(r, "control"); c.Users != 3 || c.Impressions != 30 {
		t.Fatalf("control %+v", c)
	}
	if v := variant(r, "test"); v.Users != 0 {
		t.Fatalf("test %+v", v)
	}
	if r.ExcludedMulti != 1 || r.ExcludedForced != 1 || r.ExcludedUnknown != 1 {
		t.Fatalf("exclusions %d %d %d", r.ExcludedMulti, r.ExcludedForced, r.ExcludedUnknown)
	}
}

// feed builds a small history with every kind of record.
func feed(n int) []*event.Record {
	rng := rand.New(rand.NewPCG(7, 7))
	var recs []*event.Record
	for i := range n {
		user := fmt.Sprintf("u%d", rng.IntN(50))
		at := t0 + int64(i)*1000
		v, _ := Assign(abExp, user, time.UnixMilli(at))
		req := fmt.Sprintf("r%d", i)
		recs = append(recs, ev(event.Purchase, user, "", at-500, 3, 1))
		if rng.IntN(3) == 0 {
			recs = append(recs, ev(event.Click, user, req, at+1, -1, 1)) // before its impression
		}
		recs = append(recs, imp(req, user, "ab", v, at))
		if rng.IntN(2) == 0 {
			recs = append(recs, ev(event.Click, user, req, at+2, -1, 1))
		}
		if rng.IntN(4) == 0 {
			recs = append(recs, ev(event.Purchase, user, "", at+3, 9.5, 2))
		}
	}
	return recs
}

func TestSnapshotRestore(t *testing.T) {
	recs := feed(2000)
	whole := NewAccumulator(Options{})
	for _, r := range recs {
		whole.Apply(r)
	}
	// Crash at a checkpoint halfway: restore, replay the rest.
	first := NewAccumulator(Options{})
	for _, r := range recs[:len(recs)/2] {
		first.Apply(r)
	}
	var buf bytes.Buffer
	if err := first.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("trailing bytes of a larger checkpoint")
	second := NewAccumulator(Options{})
	second.Apply(imp("junk", "j", "ab", "test", t0)) // replaced by Restore
	if err := second.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if rest := buf.String(); rest != "trailing bytes of a larger checkpoint" {
		t.Fatalf("Restore read past its snapshot: %q left", rest)
	}
	for _, r := range recs[len(recs)/2:] {
		second.Apply(r)
	}
	now := time.UnixMilli(t0)
	a, b := whole.Results(abExp, now), second.Results(abExp, now)
	for i := range a.Variants {
		x, y := a.Variants[i], b.Variants[i]
		if x.Users != y.Users || x.Impressions != y.Impressions || x.ClickedImpressions != y.ClickedImpressions ||
			x.Orders != y.Orders || x.Revenue != y.Revenue || x.PreRevenuePerUser != y.PreRevenuePerUser || x.Users == 0 {
			t.Fatalf("after restore %+v, uninterrupted %+v", y, x)
		}
	}
	if whole.Stats() != second.Stats() {
		t.Fatalf("stats %+v vs %+v", second.Stats(), whole.Stats())
	}
	if err := second.Restore(bytes.NewReader([]byte("RECOEXPA\x09........"))); err == nil {
		t.Fatal("unknown version accepted")
	}
	if err := second.Restore(bytes.NewReader([]byte("garbage garbage"))); err == nil {
		t.Fatal("garbage accepted")
	}
	if second.Stats() != whole.Stats() {
		t.Fatal("failed Restore changed the state")
	}
}

func TestConcurrentApply(t *testing.T) {
	recs := feed(4000)
	a := NewAccumulator(Options{})
	// Partition by user as the log does; each goroutine applies its own.
	parts := make([][]*event.Record, 4)
	for _, r := range recs {
		u := r.Event.UserID
		if r.Kind == event.KindImpression {
			u = r.Impression.UserID
		}
		p := fnv1a32(u) % 4
		parts[p] = append(parts[p], r)
	}
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Go(func() {
			for _, r := range p {
				a.Apply(r)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			a.Results(abExp, time.Now())
			var buf bytes.Buffer
			if err := a.Snapshot(&buf); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	seq := NewAccumulator(Options{})
	for _, p := range parts {
		for _, r := range p {
			seq.Apply(r)
		}
	}
	x, y := a.Results(abExp, time.Now()), seq.Results(abExp, time.Now())
	for i := range x.Variants {
		if x.Variants[i].Impressions != y.Variants[i].Impressions || x.Variants[i].ClickedImpressions != y.Variants[i].ClickedImpressions {
			t.Fatalf("concurrent %+v, sequential %+v", x.Variants[i], y.Variants[i])
		}
	}
}

// simulate runs a test through Assign and the Accumulator: each user sees
// lists, clicking each with probability ctr[variant].
func simulate(seed uint64, users int, ctr map[string]float64) ResultsJSON {
	rng := rand.New(rand.NewPCG(seed, 99))
	e := &Experiment{ID: fmt.Sprintf("sim-%d", seed), Variants: abExp.Variants}
	e.Normalize()
	a := NewAccumulator(Options{})
	now := time.UnixMilli(t0)
	req := 0
	for u := range users {
		user := fmt.Sprintf("user-%d-%d", seed, u)
		v, ok := Assign(e, user, now)
		if !ok {
			continue
		}
		for range 1 + rng.IntN(4) {
			req++
			id := fmt.Sprintf("r%d", req)
			a.Apply(imp(id, user, e.ID, v, t0))
			if rng.Float64() < ctr[v] {
				a.Apply(ev(event.Click, user, id, t0+1, -1, 1))
			}
		}
	}
	return a.Results(e, now)
}

func cmp(r ResultsJSON, metric string) Comparison {
	for _, c := range r.Comparisons {
		if c.Metric == metric {
			return c
		}
	}
	return Comparison{}
}

func TestABDetectsLift(t *testing.T) {
	r := simulate(1, 40000, map[string]float64{"control": 0.05, "test": 0.06})
	c := cmp(r, MetricCTR)
	if !c.Significant || !c.SequentialSignificant {
		t.Fatalf("20%% CTR lift not detected: %+v", c)
	}
	if !(float64(c.CILow) < 0.2 && 0.2 < float64(c.CIHigh)) || math.Abs(float64(c.Lift)-0.2) > 0.1 {
		t.Fatalf("lift %v CI [%v, %v], want about 0.2", c.Lift, c.CILow, c.CIHigh)
	}
	if r.SRMPValue < 0.001 {
		t.Fatalf("SRM p %v on a fair split", r.SRMPValue)
	}
}

// A/A: with no difference, the fixed test rejects about alpha of the time
// and the sequential test, looked at 20 times per run, at most alpha.
func TestAAFalsePositives(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const runs, looks = 200, 20
	rng := rand.New(rand.NewPCG(2024, 6))
	fixed, seq := 0, 0
	for range runs {
		var xc, nc, xt, nt float64
		anySeq := false
		for range looks {
			for range 500 {
				nc++
				if rng.Float64() < 0.05 {
					xc++
				}
				nt++
				if rng.Float64() < 0.05 {
					xt++
				}
			}
			r := TwoProportion(xc, nc, xt, nt, 0.95)
			if p, _, _ := Sequential(r.Lift, r.VarLift, 0.1, 0.05); p < 0.05 {
				anySeq = true
			}
		}
		if TwoProportion(xc, nc, xt, nt, 0.95).P < 0.05 {
			fixed++
		}
		if anySeq {
			seq++
		}
	}
	if rate := float64(fixed) / runs; rate >= 0.1 {
		t.Fatalf("fixed-horizon false-positive rate %v", rate)
	}
	if rate := float64(seq) / runs; rate > 0.05 {
		t.Fatalf("sequential false-positive rate with %d looks %v > alpha", looks, rate)
	}
	t.Logf("A/A over %d runs: fixed %d, sequential (20 looks) %d", runs, fixed, seq)
}

// Whole-pipeline A/A: Results on simulated equal variants.
func TestAAResults(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	fp := 0
	for s := range 20 {
		r := simulate(uint64(100+s), 3000, map[string]float64{"control": 0.05, "test": 0.05})
		if cmp(r, MetricCTR).Significant {
			fp++
		}
	}
	if fp > 4 {
		t.Fatalf("%d of 20 A/A runs significant", fp)
	}
}

func TestResultsRevenueAndCUPED(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a := NewAccumulator(Options{})
	var yc, xc, yt, xt []float64
	for u := range 600 {
		user := fmt.Sprintf("u%d", u)
		v := abExp.Variants[u%2].Name
		pre := 0.0
		if rng.Float64() < 0.4 {
			pre = math.Round(rng.ExpFloat64()*4000) / 100
			a.Apply(ev(event.Purchase, user, "", t0-86400000, pre, 1))
		}
		req := "r" + user
		a.Apply(imp(req, user, "ab", v, t0))
		y := 0.0
		if rng.Float64() < 0.3 {
			y = math.Round((0.5*pre+rng.ExpFloat64()*10)*100) / 100
			a.Apply(ev(event.Purchase, user, req, t0+1, y, 1))
		}
		if v == "control" {
			yc, xc = append(yc, y), append(xc, pre)
		} else {
			yt, xt = append(yt, y), append(xt, pre)
		}
	}
	r := a.Results(abExp, time.UnixMilli(t0))
	c := cmp(r, MetricRevenuePerUser)
	// Users come out of a map: compare to the direct computation to
	// rounding (sums in another order).
	w := WelchSamples(yc, yt, 0.95)
	if !near(float64(c.PValue), w.P, 1e-9) || !near(float64(c.Lift), w.Lift, 1e-9) {
		t.Fatalf("revenue p %v lift %v, want %v %v", c.PValue, c.Lift, w.P, w.Lift)
	}
	cu, _ := CUPED(yc, xc, yt, xt, 0.95)
	if c.CUPEDPValue == nil || !near(float64(*c.CUPEDPValue), cu.P, 1e-9) || !near(float64(*c.CUPEDLift), cu.Lift, 1e-9) {
		t.Fatalf("cuped %+v, want p %v lift %v", c, cu.P, cu.Lift)
	}
	if n := len(r.Comparisons); n != 4 {
		t.Fatalf("%d comparisons, want 4", n)
	}
}
