package analytics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
)

// t0 is a minute boundary; tests run "now" shortly after it.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ms(d time.Duration) int64 { return t0.Add(d).UnixMilli() }

func imp(req, user, exp, variant, fallback string, at time.Duration, items ...string) *event.Record {
	im := event.Impression{RequestID: req, UserID: user, Experiment: exp, Variant: variant, Fallback: fallback, Time: ms(at)}
	for i := 0; i+1 < len(items); i += 2 {
		im.Items = append(im.Items, event.ImpressionItem{ProductID: items[i], Source: items[i+1], Position: int32(i / 2)})
	}
	return &event.Record{Kind: event.KindImpression, Impression: im}
}

func ev(typ event.Type, user, product, req string, at time.Duration) *event.Record {
	return &event.Record{Kind: event.KindEvent, Event: event.Event{Type: typ, UserID: user, ProductID: product,
		RequestID: req, Time: ms(at), Price: -1, Quantity: 1}}
}

func buy(user, product, req string, at time.Duration, price float64, qty int32) *event.Record {
	r := ev(event.Purchase, user, product, req, at)
	r.Event.Price, r.Event.Quantity = price, qty
	return r
}

func newAgg(t testing.TB, o Options) *Aggregator {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return t0.Add(10 * time.Minute) }
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// craftedStream exercises attribution, minute boundaries, variants and sources.
func craftedStream() []*event.Record {
	const M = time.Minute
	return []*event.Record{
		imp("r1", "u1", "e1", "A", "", 0, "p1", "co_visit", "p2", "popular", "p3", "popular"),
		imp("r2", "u2", "e1", "B", "", 10*time.Second, "p4", "trending", "p5", "popular"),
		imp("r3", "u3", "", "", "rule_based", 20*time.Second, "p1", "popular"),
		ev(event.View, "u1", "p1", "r1", 25*time.Second),       // views are not attributed
		ev(event.Click, "u1", "p1", "r1", 30*time.Second),      // r1 clicked, p1 (co_visit)
		ev(event.Click, "u1", "p1", "r1", 31*time.Second),      // a second click, same item
		ev(event.Click, "u1", "p2", "r1", M+time.Second),       // next minute: still r1's minute
		ev(event.AddToCart, "u1", "p2", "r1", M+2*time.Second), // popular
		buy("u1", "p2", "r1", M+3*time.Second, 10.5, 2),        // 21.0, popular
		ev(event.Click, "u2", "p9", "r2", 40*time.Second),      // not in the list: list only
		ev(event.Click, "u3", "p1", "r1", 45*time.Second),      // another user's request id
		ev(event.Click, "u1", "p3", "r999", 50*time.Second),    // unknown request id
		ev(event.Click, "u5", "p1", "r5", 55*time.Second),      // before its impression
		imp("r5", "u5", "e1", "A", "", 56*time.Second, "p1", "co_visit"),
		ev(event.Click, "u1", "p3", "r1", 2*time.Hour),                    // outside the attribution window
		buy("u4", "p7", "", M+5*time.Second, 5, 1),                        // unattributed purchase
		imp("r4", "u1", "e1", "B", "", M, "p6", "popular"),                // exactly at the minute boundary
		ev(event.Click, "u1", "p6", "r4", M-time.Millisecond+time.Minute), // r4 clicked, 1 ms before minute 2
		imp("r1", "u1", "e1", "A", "", 3*M, "p8", "popular"),              // duplicate request id: counts as a list, not for attribution
		ev(event.Click, "u1", "p8", "r1", 3*M+time.Second),                // attributed to the first r1, product not in it
		buy("u2", "p4", "r2", 50*time.Second, -1, 1),                      // no price: revenue 0, trending
	}
}

func series(t *testing.T, a *Aggregator, metric, group string) map[string][]float64 {
	t.Helper()
	res, err := a.Series(metric, group, t0, t0.Add(4*time.Minute), time.Minute)
	if err != nil {
		t.Fatalf("Series(%s, %q): %v", metric, group, err)
	}
	out := map[string][]float64{}
	for _, s := range res.Series {
		out[s.Key] = s.Values
	}
	return out
}

func TestAggregatorCraftedStream(t *testing.T) {
	a := newAgg(t, Options{})
	for _, r := range craftedStream() {
		a.Apply(r)
	}
	nan := math.NaN()
	tests := []struct {
		metric, group string
		want          map[string][]float64
	}{
		{"impressions", "", map[string][]float64{"all": {4, 1, 0, 1}}},
		{"impressions", "variant", map[string][]float64{"e1/A": {2, 0, 0, 1}, "e1/B": {1, 1, 0, 0}, "none": {1, 0, 0, 0}}},
		{"items_shown", "", map[string][]float64{"all": {7, 1, 0, 1}}},
		{"items_shown", "source", map[string][]float64{"co_visit": {2, 0, 0, 0}, "popular": {4, 1, 0, 1}, "trending": {1, 0, 0, 0}}},
		{"clicks", "", map[string][]float64{"all": {5, 1, 0, 0}}},
		{"clicks", "variant", map[string][]float64{"e1/A": {4, 0, 0, 0}, "e1/B": {1, 1, 0, 0}, "none": {0, 0, 0, 0}}},
		{"clicks", "source", map[string][]float64{"co_visit": {2, 0, 0, 0}, "popular": {1, 1, 0, 0}, "trending": {0, 0, 0, 0}}},
		{"clicked_lists", "", map[string][]float64{"all": {2, 1, 0, 0}}},
		{"ctr", "", map[string][]float64{"all": {0.5, 1, nan, 0}}},
		{"ctr", "variant", map[string][]float64{"e1/A": {0.5, nan, nan, 0}, "e1/B": {1, 1, nan, nan}, "none": {0, nan, nan, nan}}},
		{"clicked_items", "", map[string][]float64{"all": {2, 1, 0, 0}}},
		{"item_ctr", "", map[string][]float64{"all": {2.0 / 7, 1, nan, 0}}},
		{"item_ctr", "source", map[string][]float64{"co_visit": {0.5, nan, nan, nan}, "popular": {0.25, 1, nan, 0}, "trending": {0, nan, nan, nan}}},
		{"add_to_carts", "source", map[string][]float64{"co_visit": {0, 0, 0, 0}, "popular": {1, 0, 0, 0}, "trending": {0, 0, 0, 0}}},
		{"attributed_purchases", "", map[string][]float64{"all": {2, 0, 0, 0}}},
		{"attributed_purchases", "source", map[string][]float64{"co_visit": {0, 0, 0, 0}, "popular": {1, 0, 0, 0}, "trending": {1, 0, 0, 0}}},
		{"attributed_revenue", "variant", map[string][]float64{"e1/A": {21, 0, 0, 0}, "e1/B": {0, 0, 0, 0}, "none": {0, 0, 0, 0}}},
		{"conversion_rate", "variant", map[string][]float64{"e1/A": {0.5, nan, nan, 0}, "e1/B": {1, 0, nan, nan}, "none": {0, nan, nan, nan}}},
		{"purchases", "", map[string][]float64{"all": {1, 2, 0, 0}}},
		{"revenue", "", map[string][]float64{"all": {0, 26, 0, 0}}},
		{"events", "event_type", map[string][]float64{"view": {1, 0, 0, 0}, "click": {6, 2, 0, 1}, "add_to_cart": {0, 1, 0, 0}, "purchase": {1, 2, 0, 0}}},
		{"fallbacks", "fallback", map[string][]float64{"rule_based": {1, 0, 0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.metric+"/"+tt.group, func(t *testing.T) {
			got := series(t, a, tt.metric, tt.group)
			if !sameSeries(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func sameSeries(got, want map[string][]float64) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if math.IsNaN(w[i]) != math.IsNaN(g[i]) || (!math.IsNaN(w[i]) && math.Abs(w[i]-g[i]) > 1e-12) {
				return false
			}
		}
	}
	return true
}

// dump renders every metric and grouping over a range, for comparisons.
func dump(t testing.TB, a *Aggregator, from, to time.Time) string {
	t.Helper()
	var b bytes.Buffer
	for _, m := range Metrics() {
		if m.Unit == "ms" {
			continue
		}
		for _, g := range m.GroupBy {
			res, err := a.Series(m.Name, g, from, to, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(res)
			b.Write(js)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func TestSnapshotRestoreExactlyOnce(t *testing.T) {
	recs := craftedStream()
	want := newAgg(t, Options{})
	for _, r := range recs {
		want.Apply(r)
	}
	for cut := 0; cut <= len(recs); cut++ {
		a := newAgg(t, Options{})
		for _, r := range recs[:cut] {
			a.Apply(r)
		}
		var ckp bytes.Buffer
		if err := a.Snapshot(&ckp); err != nil {
			t.Fatal(err)
		}
		// Work after the checkpoint is lost in the crash...
		for _, r := range recs[cut:] {
			a.Apply(r)
		}
		// ...and replayed from the checkpoint's offsets after the restart.
		b := newAgg(t, Options{})
		b.Apply(ev(event.View, "zz", "zz", "", 0)) // state that Restore must replace
		if err := b.Restore(bytes.NewReader(ckp.Bytes())); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[cut:] {
			b.Apply(r)
		}
		if got, w := dump(t, b, t0, t0.Add(5*time.Minute)), dump(t, want, t0, t0.Add(5*time.Minute)); got != w {
			t.Fatalf("cut %d: restored+replayed differs from applied once:\n%s\nwant\n%s", cut, got, w)
		}
		if b.Stats().OpenImpressions != want.Stats().OpenImpressions {
			t.Fatalf("cut %d: %d open lists, want %d", cut, b.Stats().OpenImpressions, want.Stats().OpenImpressions)
		}
	}
	if err := newAgg(t, Options{}).Restore(bytes.NewReader([]byte("garbage"))); err == nil {
		t.Fatal("Restore of garbage succeeded")
	}
}

func TestConcurrentApply(t *testing.T) {
	a := newAgg(t, Options{})
	const parts, per = 8, 500
	var wg sync.WaitGroup
	var stop atomic.Bool
	for p := 0; p < parts; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				user := fmt.Sprintf("u%d-%d", p, i%50)
				req := fmt.Sprintf("r%d-%d", p, i)
				at := time.Duration(i%180) * time.Second
				a.Apply(imp(req, user, "e", []string{"A", "B"}[i%2], "", at, "p1", "popular", "p2", "co_visit"))
				a.Apply(ev(event.Click, user, "p2", req, at+time.Second))
				a.ObserveLatency(t0.Add(at), time.Duration(i)*time.Microsecond)
			}
		}(p)
	}
	var rw sync.WaitGroup
	rw.Add(1)
	go func() { // readers and checkpoints while applying
		defer rw.Done()
		for !stop.Load() {
			if _, err := a.Series("ctr", "variant", t0, t0.Add(5*time.Minute), time.Minute); err != nil {
				t.Error(err)
			}
			a.Series("latency_p99", "", t0, t0.Add(5*time.Minute), time.Minute)
			a.Snapshot(&bytes.Buffer{})
		}
	}()
	wg.Wait()
	stop.Store(true)
	rw.Wait()
	res, err := a.Series("clicked_items", "source", t0, t0.Add(5*time.Minute), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Series) != 2 || res.Series[0].Key != "co_visit" || res.Series[0].Values[0] != parts*per {
		t.Fatalf("clicked_items by source = %+v, want co_visit %d", res.Series, parts*per)
	}
	res, _ = a.Series("ctr", "", t0, t0.Add(5*time.Minute), 5*time.Minute)
	if res.Series[0].Values[0] != 1 {
		t.Fatalf("ctr = %v, want 1", res.Series[0].Values)
	}
}

func TestRetentionBoundsMemory(t *testing.T) {
	var now atomic.Int64
	now.Store(t0.UnixNano())
	a := newAgg(t, Options{Retention: 10 * time.Minute, MaxFutureSkew: time.Minute, MaxOpenImpressions: 100,
		Now: func() time.Time { return time.Unix(0, now.Load()) }})
	for i := 0; i < 300; i++ {
		at := time.Duration(i) * time.Minute
		now.Store(t0.Add(at).UnixNano())
		for j := 0; j < 5; j++ {
			a.Apply(imp(fmt.Sprintf("r%d-%d", i, j), "u", "", "", "", at, "p", "s"))
		}
		a.Apply(ev(event.View, "u", "p", "", at))
		a.ObserveLatency(t0.Add(at), time.Millisecond)
		if s := a.Stats(); s.Buckets > 10 || s.OpenImpressions > 100 {
			t.Fatalf("minute %d: %+v", i, s)
		}
		if len(a.latency) > 10 {
			t.Fatalf("minute %d: %d latency sketches", i, len(a.latency))
		}
	}
	// Too old and too far in the future are ignored.
	a.Apply(ev(event.View, "u", "p", "", 0))
	a.Apply(ev(event.View, "u", "p", "", 400*time.Minute))
	if s := a.Stats(); s.OutOfRange != 2 {
		t.Fatalf("OutOfRange = %d, want 2", s.OutOfRange)
	}
	res, _ := a.Series("events", "", t0, t0.Add(300*time.Minute), time.Hour)
	if v := res.Series[0].Values; v[0] != 0 || v[4] != 10 {
		t.Fatalf("events per hour = %v, want 0 at first and 10 (the retained minutes) in the last", v)
	}
}

func TestSketchErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s Sketch
	var vals []time.Duration
	for i := 0; i < 20000; i++ {
		d := time.Duration(math.Exp(rng.Float64()*14)) * time.Microsecond // 1µs..~1.2s
		vals = append(vals, d)
		s.Add(d)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 1} {
		rank := int(math.Ceil(q*float64(len(vals)))) - 1
		exact := vals[rank]
		got, ok := s.Quantile(q)
		if !ok || math.Abs(float64(got-exact))/float64(exact) > 0.0100001 {
			t.Errorf("q%v = %v, exact %v", q, got, exact)
		}
	}
	var m Sketch
	m.Merge(&s)
	if m.Count() != s.Count() {
		t.Fatal("merge lost counts")
	}
	if _, ok := (&Sketch{}).Quantile(0.5); ok {
		t.Fatal("quantile of an empty sketch")
	}
}

func TestLatencySeries(t *testing.T) {
	a := newAgg(t, Options{})
	for i := 1; i <= 100; i++ {
		a.ObserveLatency(t0.Add(time.Second), time.Duration(i)*time.Millisecond)
	}
	res, err := a.Series("latency_p95", "", t0, t0.Add(2*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Series[0].Values; math.Abs(v[0]-95)/95 > 0.01 || !math.IsNaN(v[1]) {
		t.Fatalf("p95 = %v, want ~95ms then null", v)
	}
	js, _ := json.Marshal(res)
	if !bytes.Contains(js, []byte(",null]")) {
		t.Fatalf("NaN not written as null: %s", js)
	}
}
