package featureview

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/event"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// ev builds a behaviour event min minutes after t0.
func ev(typ event.Type, user, product, cat string, price float64, min float64) event.Record {
	return event.Record{Kind: event.KindEvent, Event: event.Event{Type: typ, UserID: user, ProductID: product, Category: cat,
		Price: price, Quantity: 1, Time: t0.Add(time.Duration(min * float64(time.Minute))).UnixMilli()}}
}

func at(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }

func oneView(t *testing.T, entity string, ttl time.Duration, fs ...Feature) *Engine {
	t.Helper()
	e, err := New([]View{{Name: "v", Entity: entity, TTL: Duration(ttl), Features: fs}}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func get1(t *testing.T, e *Engine, key, feat string, now time.Time) Value {
	t.Helper()
	rows, err := e.Get("v", []string{key}, []string{feat}, now)
	if err != nil {
		t.Fatal(err)
	}
	return rows[0].Values[0]
}

func TestAggregations(t *testing.T) {
	V, C, P, R := event.View, event.Click, event.Purchase, event.Review
	review := func(rating int8, min float64) event.Record {
		r := ev(R, "u", "p", "x", -1, min)
		r.Event.Rating = rating
		return r
	}
	cases := []struct {
		name   string
		entity string
		f      Feature
		log    []event.Record
		key    string
		now    float64 // minutes after t0
		want   any     // nil: missing
	}{
		{"count all", "user", Feature{Name: "f", Agg: "count"},
			[]event.Record{ev(V, "u", "p", "a", 1, 0), ev(C, "u", "p", "a", 1, 1), ev(V, "w", "p", "a", 1, 2)}, "u", 5, int64(2)},
		{"count filtered", "user", Feature{Name: "f", Agg: "count", Events: []string{"click", "purchase"}},
			[]event.Record{ev(V, "u", "p", "a", 1, 0), ev(C, "u", "p", "a", 1, 1), ev(P, "u", "p", "a", 1, 2)}, "u", 5, int64(2)},
		{"sum revenue", "user", Feature{Name: "f", Agg: "sum", Field: "revenue", Events: []string{"purchase"}},
			[]event.Record{ev(P, "u", "p", "a", 2.5, 0), ev(P, "u", "q", "a", 4, 1), ev(V, "u", "q", "a", 100, 2)}, "u", 5, 6.5},
		{"avg price skips unknown", "user", Feature{Name: "f", Agg: "avg", Field: "price"},
			[]event.Record{ev(V, "u", "p", "a", 2, 0), ev(V, "u", "q", "a", -1, 1), ev(V, "u", "r", "a", 4, 2)}, "u", 5, 3.0},
		{"avg of nothing is missing", "user", Feature{Name: "f", Agg: "avg", Field: "price"},
			[]event.Record{ev(V, "u", "q", "a", -1, 1)}, "u", 5, nil},
		{"avg of nothing reads default", "user", Feature{Name: "f", Agg: "avg", Field: "price", Default: 0},
			[]event.Record{ev(V, "u", "q", "a", -1, 1)}, "u", 5, 0.0},
		{"min", "user", Feature{Name: "f", Agg: "min", Field: "price"},
			[]event.Record{ev(V, "u", "p", "a", 5, 0), ev(V, "u", "q", "a", 3, 1), ev(V, "u", "r", "a", 4, 2)}, "u", 5, 3.0},
		{"max time out of order", "user", Feature{Name: "f", Agg: "max", Field: "time"},
			[]event.Record{ev(V, "u", "p", "a", 5, 3), ev(V, "u", "q", "a", 3, 1)}, "u", 5, at(3)},
		{"distinct product", "user", Feature{Name: "f", Agg: "distinct_count", Field: "product_id"},
			[]event.Record{ev(V, "u", "p", "a", 1, 0), ev(V, "u", "q", "a", 1, 1), ev(C, "u", "p", "a", 1, 2)}, "u", 5, int64(2)},
		{"most frequent ties alphabetical", "user", Feature{Name: "f", Agg: "most_frequent", Field: "category"},
			[]event.Record{ev(V, "u", "p", "b", 1, 0), ev(V, "u", "q", "a", 1, 1), ev(V, "u", "r", "c", 1, 2), ev(V, "u", "r", "b", 1, 3), ev(V, "u", "r", "a", 1, 3)}, "u", 5, "a"},
		{"last by event time", "user", Feature{Name: "f", Agg: "last", Field: "category"},
			[]event.Record{ev(V, "u", "p", "b", 1, 5), ev(V, "u", "q", "a", 1, 1)}, "u", 6, "b"},
		{"first by event time", "user", Feature{Name: "f", Agg: "first", Field: "product_id"},
			[]event.Record{ev(V, "u", "p", "b", 1, 5), ev(V, "u", "q", "a", 1, 1)}, "u", 6, "q"},
		{"ratio", "user", Feature{Name: "f", Agg: "ratio", Numerator: "n", Denominator: "d"},
			[]event.Record{ev(C, "u", "p", "a", 1, 0), ev(C, "u", "p", "a", 1, 1), ev(P, "u", "p", "a", 1, 2), ev(C, "u", "p", "a", 1, 3)}, "u", 5, 1.0 / 3},
		{"ratio zero denominator reads default", "user", Feature{Name: "f", Agg: "ratio", Numerator: "n", Denominator: "d", Default: 0.0},
			[]event.Record{ev(P, "u", "p", "a", 1, 2)}, "u", 5, 0.0},
		{"ratio zero denominator without default is missing", "user", Feature{Name: "f", Agg: "ratio", Numerator: "n", Denominator: "d"},
			[]event.Record{ev(P, "u", "p", "a", 1, 2)}, "u", 5, nil},
		{"avg rating", "product", Feature{Name: "f", Agg: "avg", Field: "rating", Events: []string{"review"}},
			[]event.Record{review(5, 0), review(2, 1), ev(V, "u", "p", "a", 1, 2)}, "p", 5, 3.5},
		{"user_category key", "user_category", Feature{Name: "f", Agg: "count"},
			[]event.Record{ev(V, "u", "p", "a", 1, 0), ev(V, "u", "p", "b", 1, 1), ev(V, "u", "q", "a", 1, 2)}, "u|a", 5, int64(2)},
		{"category entity", "category", Feature{Name: "f", Agg: "distinct_count", Field: "user_id"},
			[]event.Record{ev(V, "u", "p", "a", 1, 0), ev(V, "w", "p", "a", 1, 1), ev(V, "u", "q", "a", 1, 2)}, "a", 5, int64(2)},
		// Half-life 10 minutes: weights 1 (view) and 8 (purchase).
		{"decayed in order", "user", Feature{Name: "f", Agg: "decayed_count", HalfLife: Duration(10 * time.Minute), Weights: map[string]float64{"view": 1, "purchase": 8}},
			[]event.Record{ev(V, "u", "p", "a", 1, 0), ev(P, "u", "p", "a", 1, 10), ev(C, "u", "p", "a", 1, 10)}, "u", 20, (0.5 + 8) * 0.5},
		{"decayed out of order", "user", Feature{Name: "f", Agg: "decayed_count", HalfLife: Duration(10 * time.Minute)},
			[]event.Record{ev(V, "u", "p", "a", 1, 10), ev(V, "u", "p", "a", 1, 0)}, "u", 20, 0.5 + 0.25},
		{"decayed read before newest event is not grown", "user", Feature{Name: "f", Agg: "decayed_count", HalfLife: Duration(10 * time.Minute)},
			[]event.Record{ev(V, "u", "p", "a", 1, 10)}, "u", 5, 1.0},
		// Window 60 minutes in 6 buckets of 10: the window at minute 65
		// holds buckets [10,20) ... [60,70).
		{"window slides", "user", Feature{Name: "f", Agg: "window_count", Window: Duration(time.Hour), Buckets: 6},
			[]event.Record{ev(V, "u", "p", "a", 1, 5), ev(V, "u", "p", "a", 1, 15), ev(V, "u", "p", "a", 1, 64)}, "u", 65, int64(2)},
		{"window out of order within window", "user", Feature{Name: "f", Agg: "window_count", Window: Duration(time.Hour), Buckets: 6},
			[]event.Record{ev(V, "u", "p", "a", 1, 64), ev(V, "u", "p", "a", 1, 15), ev(V, "u", "p", "a", 1, 16)}, "u", 65, int64(3)},
		{"window out of order too old is dropped", "user", Feature{Name: "f", Agg: "window_count", Window: Duration(time.Hour), Buckets: 6},
			[]event.Record{ev(V, "u", "p", "a", 1, 64), ev(V, "u", "p", "a", 1, 4)}, "u", 65, int64(1)},
		{"window ignores events after now", "user", Feature{Name: "f", Agg: "window_count", Window: Duration(time.Hour), Buckets: 6},
			[]event.Record{ev(V, "u", "p", "a", 1, 30), ev(V, "u", "p", "a", 1, 50)}, "u", 35, int64(1)},
		{"window empty later", "user", Feature{Name: "f", Agg: "window_count", Window: Duration(time.Hour), Buckets: 6},
			[]event.Record{ev(V, "u", "p", "a", 1, 30)}, "u", 200, int64(0)},
		{"unknown entity is missing", "user", Feature{Name: "f", Agg: "count"},
			[]event.Record{ev(V, "u", "p", "a", 1, 0)}, "nobody", 5, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := []Feature{tc.f}
			if tc.f.Agg == "ratio" {
				fs = append(fs, Feature{Name: "n", Agg: "count", Events: []string{"purchase"}}, Feature{Name: "d", Agg: "count", Events: []string{"click"}})
			}
			e := oneView(t, tc.entity, 0, fs...)
			for i := range tc.log {
				e.Apply(&tc.log[i])
			}
			got := get1(t, e, tc.key, "f", at(tc.now))
			if tc.want == nil {
				if got.Status != Missing || got.Value != nil {
					t.Fatalf("got %v (%v), want missing", got.Value, got.Status)
				}
				return
			}
			if got.Status != Present {
				t.Fatalf("status %v, want present", got.Status)
			}
			if w, ok := tc.want.(float64); ok {
				if g, ok := got.Value.(float64); !ok || math.Abs(g-w) > 1e-9 {
					t.Fatalf("got %v (%T), want %v", got.Value, got.Value, w)
				}
				return
			}
			if got.Value != tc.want {
				t.Fatalf("got %v (%T), want %v (%T)", got.Value, got.Value, tc.want, tc.want)
			}
		})
	}
}

func TestCatalogAndStock(t *testing.T) {
	vs, od := Defaults()
	e, err := New(vs, od, Options{})
	if err != nil {
		t.Fatal(err)
	}
	up := event.Record{Kind: event.KindProduct, Product: event.Product{ID: "p", Category: "shoes", HasPrice: true, Price: 30,
		HasInventory: true, Inventory: 3, Time: at(0).UnixMilli()}}
	e.Apply(&up)
	buy := ev(event.Purchase, "u", "p", "boots", 25, 1)
	buy.Event.Quantity = 2
	e.Apply(&buy)
	e.Apply(&buy)
	rows, _ := e.Get("product_features", []string{"p"}, []string{"category", "price", "inventory_level"}, at(2))
	got := []any{rows[0].Values[0].Value, rows[0].Values[1].Value, rows[0].Values[2].Value}
	if got[0] != "shoes" || got[1] != 30.0 || got[2] != int64(0) {
		t.Fatalf("got %v, want the catalog's shoes, 30 and stock 3-2-2 floored at 0", got)
	}
	// The user's event named its own category; the next one without takes
	// the catalog's.
	e.Apply(new(ev(event.View, "w", "p", "", -1, 3)))
	rows, _ = e.Get("user_features", []string{"w"}, []string{"favorite_category", "avg_price_point"}, at(4))
	if rows[0].Values[0].Value != "shoes" || rows[0].Values[1].Value != 30.0 {
		t.Fatalf("catalog fill-in: got %v %v", rows[0].Values[0].Value, rows[0].Values[1].Value)
	}
}

// TestTTL: a value exactly TTL old is present; one millisecond older is
// expired, with a nil value, its age and event time.
func TestTTL(t *testing.T) {
	e := oneView(t, "user", time.Hour, Feature{Name: "f", Agg: "count"})
	e.Apply(new(ev(event.View, "u", "p", "a", 1, 0)))
	v := get1(t, e, "u", "f", at(60))
	if v.Status != Present || v.Value != int64(1) || v.Age != time.Hour || !v.EventTime.Equal(t0) {
		t.Fatalf("at TTL: %+v, want present 1 aged 1h", v)
	}
	v = get1(t, e, "u", "f", at(60).Add(time.Millisecond))
	if v.Status != Expired || v.Value != nil || v.Age != time.Hour+time.Millisecond {
		t.Fatalf("past TTL: %+v, want expired", v)
	}
	// A new event refreshes the entity.
	e.Apply(new(ev(event.View, "u", "p", "a", 1, 61)))
	if v = get1(t, e, "u", "f", at(62)); v.Status != Present || v.Value != int64(2) || v.Age != time.Minute {
		t.Fatalf("refreshed: %+v", v)
	}
	// TTL 0 never expires.
	e = oneView(t, "user", 0, Feature{Name: "f", Agg: "count"})
	e.Apply(new(ev(event.View, "u", "p", "a", 1, 0)))
	if v = get1(t, e, "u", "f", at(1e7)); v.Status != Present {
		t.Fatalf("ttl 0: %+v", v)
	}
}

func TestStatusesAndHook(t *testing.T) {
	var gotView string
	var req, pres int
	vs, od := Defaults()
	e, err := New(vs, od, Options{Hooks: Hooks{OnRead: func(view string, requested, present int, _ time.Duration) {
		gotView, req, pres = view, requested, present
	}}})
	if err != nil {
		t.Fatal(err)
	}
	e.Apply(new(ev(event.Click, "old", "p", "a", 1, 0)))
	e.Apply(new(ev(event.Click, "new", "p", "a", 1, 60*24*40)))
	now := at(60*24*40 + 1)
	rows, err := e.Get("user_features", []string{"new", "old", "nobody"}, []string{"clicks", "purchase_tier"}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]Status{{Present, Present}, {Expired, Expired}, {Missing, Missing}}
	for i, r := range rows {
		for j, v := range r.Values {
			if v.Status != want[i][j] {
				t.Errorf("row %d col %d: %v, want %v", i, j, v.Status, want[i][j])
			}
		}
	}
	if rows[0].Values[1].Value != "low" {
		t.Errorf("purchase_tier %v", rows[0].Values[1].Value)
	}
	if gotView != "user_features" || req != 6 || pres != 2 {
		t.Errorf("hook: %s %d %d", gotView, req, pres)
	}
	if _, err := e.Get("nope", nil, nil, now); reco.KindOf(err) != reco.NotFound {
		t.Errorf("unknown view: %v", err)
	}
	if _, err := e.Get("user_features", nil, []string{"nope"}, now); reco.KindOf(err) != reco.Invalid {
		t.Errorf("unknown feature: %v", err)
	}
}

func TestOnDemand(t *testing.T) {
	vs, _ := Defaults()
	od := []OnDemand{
		{Name: "purchase_tier", Inputs: []string{"user_features:purchase_rate"}, Func: "purchase_tier"},
		{Name: "tier3", Inputs: []string{"user_features:clicks"}, Func: "tier(10:many, 2:some, few)"},
		{Name: "recency", Inputs: []string{"user_features:last_event_time"}, Func: "age_seconds"},
		{Name: "pop_per_click", Inputs: []string{"product_features:popularity_score", "user_features:clicks"}, Func: "ratio"},
	}
	e, err := New(vs, od, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		e.Apply(new(ev(event.Click, "u", "p", "a", 1, float64(i))))
	}
	e.Apply(new(ev(event.Purchase, "u", "p", "a", 1, 20)))
	e.Apply(new(ev(event.Purchase, "u", "p", "a", 1, 20)))
	now := at(21)
	for _, tc := range []struct {
		name string
		want any
	}{{"purchase_tier", "medium"}, {"tier3", "many"}, {"recency", 60.0}} {
		got, err := e.GetOnDemand(tc.name, []Entities{{"user": "u"}, {"user": "x"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Status != Present || got[0].Value != tc.want || got[1].Status != Missing {
			t.Errorf("%s: %+v, want %v then missing", tc.name, got, tc.want)
		}
	}
	got, _ := e.GetOnDemand("pop_per_click", []Entities{{"user": "u", "product": "p"}}, now)
	if got[0].Status != Present || got[0].Value.(float64) <= 0 {
		t.Errorf("pop_per_click %+v", got)
	}
	if _, err := e.GetOnDemand("nope", nil, now); reco.KindOf(err) != reco.NotFound {
		t.Errorf("unknown: %v", err)
	}
}

func TestSnapshotRestore(t *testing.T) {
	log := randomLog(7, 3000, t0.UnixMilli())
	a := mustDefaults(t)
	for i := range log[:2000] {
		a.Apply(&log[i])
	}
	var buf bytes.Buffer
	if err := a.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	b := mustDefaults(t)
	if err := b.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for i := range log[2000:] {
		a.Apply(&log[2000+i])
		b.Apply(&log[2000+i])
	}
	now := time.UnixMilli(log[len(log)-1].Event.Time + 1)
	for _, view := range []string{"user_features", "product_features"} {
		ids := entityKeys(a, view)
		ra, _ := a.Get(view, ids, nil, now)
		rb, _ := b.Get(view, ids, nil, now)
		if len(ids) == 0 {
			t.Fatal("no entities")
		}
		for i := range ra {
			for j := range ra[i].Values {
				if va, vb := ra[i].Values[j], rb[i].Values[j]; va != vb {
					t.Fatalf("%s %s col %d: %+v after restore, want %+v", view, ids[i], j, vb, va)
				}
			}
		}
	}
	if a.Views(now).FeatureViews[0].Entities != b.Views(now).FeatureViews[0].Entities {
		t.Fatal("entity counts differ")
	}

	// Changed definitions refuse the snapshot (the log is replayed).
	vs, od := Defaults()
	vs[0].Features[0].Events = []string{"click"}
	c, _ := New(vs, od, Options{})
	err := c.Restore(bytes.NewReader(buf.Bytes()))
	if err == nil || !strings.Contains(err.Error(), "definitions changed") {
		t.Fatalf("restore with other definitions: %v", err)
	}
	// Read-only changes (TTL, description, default, type) keep it.
	vs, od = Defaults()
	vs[0].TTL = Duration(time.Hour)
	vs[0].Description = "x"
	d, _ := New(vs, od, Options{})
	if err := d.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("restore after a TTL change: %v", err)
	}
	if err := d.Restore(bytes.NewReader(buf.Bytes()[:len(buf.Bytes())/2])); err == nil {
		t.Fatal("restore of a truncated snapshot succeeded")
	}
}

// entityKeys lists a view's keys (test helper: reads the shards).
func entityKeys(e *Engine, view string) []string {
	var out []string
	v := e.byName[view]
	for i := range v.shards {
		v.shards[i].mu.RLock()
		for k := range v.shards[i].m {
			out = append(out, k)
		}
		v.shards[i].mu.RUnlock()
	}
	return out
}

// TestConcurrentApply applies partitions concurrently, as the stream
// processor does (a user's events from one goroutine), with reads and
// catalog upserts racing, and checks the counts against a serial run.
func TestConcurrentApply(t *testing.T) {
	log := randomLog(3, 8000, t0.UnixMilli())
	const parts = 4
	var byPart [parts][]event.Record
	for _, r := range log {
		id := r.Product.ID
		if r.Kind == event.KindEvent {
			id = r.Event.UserID
		}
		p := int(id[len(id)-1]) % parts
		byPart[p] = append(byPart[p], r)
	}
	e := mustDefaults(t)
	var wg sync.WaitGroup
	for p := range byPart {
		wg.Go(func() {
			for i := range byPart[p] {
				e.Apply(&byPart[p][i])
			}
		})
	}
	stop := make(chan struct{})
	var rg sync.WaitGroup
	rg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.Get("user_features", []string{"u1", "u2"}, nil, time.Now())
			e.Get("product_features", []string{"p1", "p2"}, nil, time.Now())
			e.GetOnDemand("purchase_tier", []Entities{{"user": "u3"}}, time.Now())
			e.Views(time.Now())
		}
	})
	wg.Wait()
	close(stop)
	rg.Wait()
	serial := mustDefaults(t)
	for i := range log {
		serial.Apply(&log[i])
	}
	now := time.UnixMilli(log[len(log)-1].Event.Time)
	ids := entityKeys(serial, "user_features")
	ra, _ := e.Get("user_features", ids, []string{"total_events", "clicks", "purchases", "first_event_time", "last_event_time"}, now)
	rb, _ := serial.Get("user_features", ids, []string{"total_events", "clicks", "purchases", "first_event_time", "last_event_time"}, now)
	for i := range ra {
		for j := range ra[i].Values {
			if ra[i].Values[j] != rb[i].Values[j] {
				t.Fatalf("user %s col %d: %+v concurrent, %+v serial", ids[i], j, ra[i].Values[j], rb[i].Values[j])
			}
		}
	}
	pids := entityKeys(serial, "product_features")
	pa, _ := e.Get("product_features", pids, []string{"views", "purchases"}, now)
	pb, _ := serial.Get("product_features", pids, []string{"views", "purchases"}, now)
	for i := range pa {
		for j := range pa[i].Values {
			if pa[i].Values[j] != pb[i].Values[j] {
				t.Fatalf("product %s col %d differs", pids[i], j)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	vs, od := Defaults()
	bad := append(vs, View{Name: "x", Entity: "user", Features: []Feature{
		{Name: "a", Agg: "count"},
		{Name: "b", Agg: "cnt"},
		{Name: "c", Agg: "window_count"},
		{Name: "d", Agg: "ratio", Numerator: "a", Denominator: "zz"},
		{Name: "e", Agg: "avg", Field: "category"},
		{Name: "a", Agg: "count", Events: []string{"clik"}},
		{Name: "g", Agg: "most_frequent", Field: "price"},
		{Name: "h", Agg: "stock"},
		{Name: "i", Agg: "count", Type: "string"},
		{Name: "j", Agg: "decayed_count"},
		{Name: "k", Agg: "count", Default: "zero"},
	}}, View{Name: "y", Entity: "shop", Features: []Feature{{Name: "z", Agg: "last", Catalog: "price"}}})
	od = append(od, OnDemand{Name: "t", Inputs: []string{"user_features:favorite_category"}, Func: "tier(0.1:hi, lo)"},
		OnDemand{Name: "u", Inputs: []string{"nope:x"}, Func: "tier(0.1 hi, lo)"})
	err := Validate(bad, od)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`feature_views[2].features[1].agg: unknown aggregation "cnt"`,
		`feature_views[2].features[2].window: window_count needs a positive window`,
		`feature_views[2].features[3].denominator: no feature "zz" in view "x"`,
		`feature_views[2].features[4].field: avg needs a numeric field`,
		`feature_views[2].features[5].name: duplicate feature "a"`,
		`feature_views[2].features[5].events[0]: unknown event type "clik"`,
		`feature_views[2].features[6].field: most_frequent needs a text field`,
		`feature_views[2].features[7].agg: stock is for product views`,
		`feature_views[2].features[8].type: count of events cannot be string`,
		`feature_views[2].features[9].half_life: decayed_count needs a positive half_life`,
		`feature_views[2].features[10].default: zero is not an int64`,
		`feature_views[3].entity: unknown entity "shop"`,
		`feature_views[3].features[0].catalog: only product views read the catalog`,
		`on_demand[1].inputs[0]: tier takes a number, user_features:favorite_category is string`,
		`on_demand[2].inputs[0]: unknown view "nope"`,
		`on_demand[2].func: tier: "0.1 hi" is not threshold:label`,
	} {
		if !strings.Contains(err.Error(), want+"") {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
	if _, err := New(bad, nil, Options{}); err == nil {
		t.Error("New accepted bad views")
	}
	if err := Validate(Defaults()); err != nil {
		t.Errorf("defaults: %v", err)
	}
	var je interface{ Unwrap() []error }
	if !errors.As(err, &je) || len(je.Unwrap()) < 16 {
		t.Errorf("want every problem at once")
	}
}
