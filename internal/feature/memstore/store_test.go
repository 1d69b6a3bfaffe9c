package memstore

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
)

const t0 = int64(1_772_359_200_000) // 2026-03-01T10:00:00Z

func fixedClock(ms int64) func() time.Time {
	return func() time.Time { return time.UnixMilli(ms) }
}

func evRec(typ event.Type, user, product, session string, at int64) *event.Record {
	return &event.Record{Kind: event.KindEvent, Event: event.Event{Type: typ, UserID: user, ProductID: product,
		SessionID: session, Price: -1, Quantity: 1, Time: at}}
}

func prodRec(p event.Product) *event.Record {
	return &event.Record{Kind: event.KindProduct, Product: p}
}

func TestApplyRecords(t *testing.T) {
	s := New(Options{Now: fixedClock(t0)})
	s.Apply(prodRec(event.Product{ID: "p1", Category: "shoes", Name: "Runner", Price: 40, HasPrice: true, Inventory: 5, HasInventory: true}))
	view := evRec(event.View, "u1", "p1", "s1", t0)
	view.Event.Ingested = t0 + 5
	s.Apply(view)
	buy := evRec(event.Purchase, "u1", "p1", "s1", t0+1000)
	buy.Event.Quantity = 2
	buy.Event.Ingested = t0 + 1005
	s.Apply(buy)
	s.Apply(evRec(event.Click, "u2", "p2", "", t0+2000)) // product not in the catalog
	s.Apply(&event.Record{Kind: event.KindImpression, Impression: event.Impression{UserID: "u1",
		Items: []event.ImpressionItem{{ProductID: "p1"}, {ProductID: "unknown"}}}})
	s.Apply(&event.Record{Kind: event.KindImpression, Impression: event.Impression{UserID: "nobody",
		Items: []event.ImpressionItem{{ProductID: "p1"}}}})

	p1, ok := s.Product("p1")
	if !ok {
		t.Fatal("p1 missing")
	}
	if p1.Inventory != 3 || p1.Views != 1 || p1.Purchases != 1 || p1.Impressions != 2 || !p1.InCatalog || p1.Category != "shoes" {
		t.Errorf("p1 = %+v", p1)
	}
	p2, ok := s.Product("p2")
	if !ok || p2.InCatalog || p2.Clicks != 1 || p2.Price != -1 || p2.Inventory != -1 {
		t.Errorf("p2 = %+v, %v", p2, ok)
	}
	if _, ok := s.Product("unknown"); ok {
		t.Error("an impression created a product")
	}
	u1, ok := s.User("u1")
	if !ok {
		t.Fatal("u1 missing")
	}
	// The events named no category or price: the catalog's are used.
	if u1.Total != 2 || u1.Purchases != 1 || u1.Impressions != 1 || u1.Cats["shoes"] == nil || u1.Cats["shoes"].Count != 2 || u1.AvgPrice() != 40 {
		t.Errorf("u1 = %+v", u1)
	}
	if _, ok := s.User("nobody"); ok {
		t.Error("an impression created a user")
	}
	st := s.Stats()
	want := Stats{Users: 2, Products: 2, CoVisitItems: 0, Applied: 6, LastIngested: t0 + 1005, LastEventTime: t0 + 2000}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

func TestReadsAreCopies(t *testing.T) {
	s := New(Options{})
	s.Apply(evRec(event.Purchase, "u", "p", "s", t0))
	u, _ := s.User("u")
	u.Total = 99
	u.Bought["p"] = 99
	u.Recent[0].Product = "changed"
	p, _ := s.Product("p")
	p.Purchases = 99
	u2, _ := s.User("u")
	p2, _ := s.Product("p")
	if u2.Total != 1 || u2.Bought["p"] != 1 || u2.Recent[0].Product != "p" || p2.Purchases != 1 {
		t.Errorf("changing a read copy changed the store: %+v %+v", u2, p2)
	}
	out := make([]*feature.Product, 2)
	s.Products([]string{"p", "missing"}, out)
	if out[0] == nil || out[0].ID != "p" || out[1] != nil {
		t.Errorf("Products = %+v", out)
	}
}

func TestCoVisitation(t *testing.T) {
	type step struct {
		typ     event.Type
		user    string
		product string
		session string
		at      int64
	}
	tests := []struct {
		name  string
		steps []step
		want  map[string][]Scored
	}{
		{"view then view", []step{{event.View, "u", "a", "s", t0}, {event.View, "u", "b", "s", t0 + 1}},
			map[string][]Scored{"a": {{"b", 1}}, "b": {{"a", 1}}}},
		{"view then purchase counts as the view", []step{{event.View, "u", "a", "s", t0}, {event.Purchase, "u", "b", "s", t0 + 1}},
			map[string][]Scored{"a": {{"b", 1}}, "b": {{"a", 1}}}},
		{"purchase then view counts as the view", []step{{event.Purchase, "u", "a", "s", t0}, {event.View, "u", "b", "s", t0 + 1}},
			map[string][]Scored{"a": {{"b", 1}}, "b": {{"a", 1}}}},
		{"cart then purchase", []step{{event.AddToCart, "u", "a", "s", t0}, {event.Purchase, "u", "b", "s", t0 + 1}},
			map[string][]Scored{"a": {{"b", 4}}, "b": {{"a", 4}}}},
		{"two purchases", []step{{event.Purchase, "u", "a", "s", t0}, {event.Purchase, "u", "b", "s", t0 + 1}},
			map[string][]Scored{"a": {{"b", 8}}, "b": {{"a", 8}}}},
		{"removal adds nothing", []step{{event.View, "u", "a", "s", t0}, {event.RemoveFromCart, "u", "b", "s", t0 + 1}},
			map[string][]Scored{"a": {}, "b": {}}},
		{"different sessions", []step{{event.View, "u", "a", "s1", t0}, {event.View, "u", "b", "s2", t0 + 1}},
			map[string][]Scored{"a": {}, "b": {}}},
		{"different users", []step{{event.View, "u1", "a", "s", t0}, {event.View, "u2", "b", "s", t0 + 1}},
			map[string][]Scored{"a": {}, "b": {}}},
		{"sums over users, strongest first", []step{
			{event.View, "u1", "a", "", t0}, {event.View, "u1", "b", "", t0 + 1},
			{event.Click, "u2", "a", "", t0}, {event.Click, "u2", "c", "", t0 + 1},
			{event.View, "u3", "a", "", t0}, {event.Click, "u3", "c", "", t0 + 1},
		}, map[string][]Scored{"a": {{"c", 3}, {"b", 1}}, "b": {{"a", 1}}, "c": {{"a", 3}}}},
		{"three in a session", []step{{event.View, "u", "a", "s", t0}, {event.View, "u", "b", "s", t0 + 1}, {event.View, "u", "c", "s", t0 + 2}},
			map[string][]Scored{"a": {{"b", 1}, {"c", 1}}, "b": {{"a", 1}, {"c", 1}}, "c": {{"a", 1}, {"b", 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{})
			for _, st := range tt.steps {
				s.Apply(evRec(st.typ, st.user, st.product, st.session, st.at))
			}
			for id, want := range tt.want {
				got := s.CoVisited(id, 10)
				if len(got) == 0 && len(want) == 0 {
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("CoVisited(%s) = %v, want %v", id, got, want)
				}
			}
		})
	}
}

func TestCoVisitedLimit(t *testing.T) {
	s := New(Options{})
	for i, p := range []string{"a", "b", "c", "d"} {
		s.Apply(evRec(event.View, "u", p, "s", t0+int64(i)))
	}
	if got := s.CoVisited("a", 2); len(got) != 2 || got[0].ID != "b" || got[1].ID != "c" {
		t.Errorf("CoVisited(a, 2) = %v, want b and c (ties by id)", got)
	}
	if got := s.CoVisited("zzz", 5); len(got) != 0 {
		t.Errorf("CoVisited of an unknown item = %v", got)
	}
}

// TestCoVisitPruning gives item A five neighbours of distinct strength with
// MaxNeighbors 2: the fifth pushes the list past 2x2 and only the two
// strongest may remain.
func TestCoVisitPruning(t *testing.T) {
	s := New(Options{MaxNeighbors: 2})
	for i, typ := range []event.Type{event.Purchase, event.AddToCart, event.Click, event.View, event.View} {
		user, n := fmt.Sprintf("u%d", i), fmt.Sprintf("n%d", i)
		s.Apply(evRec(typ, user, n, "s", t0))
		s.Apply(evRec(typ, user, "A", "s", t0+1))
		if i < 4 {
			if got := s.CoVisited("A", 100); len(got) != i+1 {
				t.Fatalf("after %d neighbours: %v (pruned too early)", i+1, got)
			}
		}
	}
	want := []Scored{{"n0", 8}, {"n1", 4}}
	if got := s.CoVisited("A", 100); !reflect.DeepEqual(got, want) {
		t.Errorf("after pruning CoVisited(A) = %v, want %v", got, want)
	}
	// The neighbours' own lists are short and keep A.
	if got := s.CoVisited("n4", 100); !reflect.DeepEqual(got, []Scored{{"A", 1}}) {
		t.Errorf("CoVisited(n4) = %v", got)
	}
}

func TestPruneNeighbors(t *testing.T) {
	tests := []struct {
		name string
		m    map[string]float32
		keep int
		want map[string]float32
	}{
		{"keeps strongest", map[string]float32{"a": 1, "b": 5, "c": 3, "d": 4, "e": 2}, 2, map[string]float32{"b": 5, "d": 4}},
		{"ties by id", map[string]float32{"x": 1, "b": 1, "a": 1, "c": 1}, 2, map[string]float32{"a": 1, "b": 1}},
		{"keep all", map[string]float32{"a": 1, "b": 2}, 2, map[string]float32{"a": 1, "b": 2}},
	}
	for _, tt := range tests {
		pruneNeighbors(tt.m, tt.keep)
		if !reflect.DeepEqual(tt.m, tt.want) {
			t.Errorf("%s: pruned to %v, want %v", tt.name, tt.m, tt.want)
		}
	}
}

func TestRefreshIndex(t *testing.T) {
	week := int64(7 * 24 * 3600e3)
	now := t0 + week // one popularity half-life after the events
	s := New(Options{Now: fixedClock(now), IndexPerCategory: 2})
	upsert := func(id, cat string, inv int64, hasInv bool, avail bool) {
		s.Apply(prodRec(event.Product{ID: id, Category: cat, Inventory: inv, HasInventory: hasInv, Available: avail, HasAvailable: true}))
	}
	upsert("a", "x", 10, true, true)
	upsert("b", "x", 0, false, true) // unknown stock: listed
	upsert("c", "y", 10, true, true)
	upsert("d", "x", 1, true, true) // sold out by its purchase below
	upsert("e", "x", 10, true, false)
	upsert("f", "x", 10, true, true)
	upsert("g", "", 10, true, true) // no category: global only
	upsert("h", "x", 0, true, true) // never had stock
	for _, e := range []struct {
		typ event.Type
		id  string
	}{
		{event.Purchase, "a"}, {event.View, "b"}, {event.View, "b"}, {event.Click, "c"}, {event.Purchase, "d"},
		{event.Purchase, "e"}, {event.View, "f"}, {event.AddToCart, "g"}, {event.Purchase, "h"},
	} {
		s.Apply(evRec(e.typ, "u-"+e.id, e.id, "", t0))
	}
	ix := s.RefreshIndex()
	if s.Index() != ix {
		t.Error("Index() does not return the index just built")
	}
	if ix.Built != now {
		t.Errorf("Built = %d, want the injected clock %d", ix.Built, now)
	}
	// Popularity halves over the week: purchase 8 -> 4, cart 4 -> 2, ...
	wantGlobal := []Scored{{"a", 4}, {"g", 2}, {"b", 1}, {"c", 1}, {"f", 0.5}}
	checkScored(t, "Global", ix.Global, wantGlobal)
	checkScored(t, "ByCategory[x]", ix.ByCategory["x"], []Scored{{"a", 4}, {"b", 1}}) // capped at 2
	checkScored(t, "ByCategory[y]", ix.ByCategory["y"], []Scored{{"c", 1}})
	if len(ix.ByCategory) != 2 || ix.Categories != 2 {
		t.Errorf("categories: %d (%v), want x and y", ix.Categories, ix.ByCategory)
	}
	if math.Abs(ix.MaxPop-4) > 1e-9 {
		t.Errorf("MaxPop = %v, want 4", ix.MaxPop)
	}
	for _, it := range ix.Trending {
		if it.ID == "d" || it.ID == "e" || it.ID == "h" {
			t.Errorf("out-of-stock %s is trending", it.ID)
		}
	}
	if len(ix.Trending) != len(wantGlobal) {
		t.Errorf("Trending = %v, want the %d in-stock popular items", ix.Trending, len(wantGlobal))
	}

	// Restocking d makes it appear at the next refresh only.
	s.Apply(prodRec(event.Product{ID: "d", Inventory: 3, HasInventory: true}))
	if ix2 := s.Index(); ix2 != ix {
		t.Error("Index changed without a refresh")
	}
	ix2 := s.RefreshIndex()
	checkScored(t, "Global after restock", ix2.Global, []Scored{{"a", 4}, {"d", 4}, {"g", 2}, {"b", 1}, {"c", 1}, {"f", 0.5}})
}

func TestRefreshIndexGlobalCap(t *testing.T) {
	s := New(Options{Now: fixedClock(t0), IndexGlobal: 3})
	for i := range 10 {
		id := fmt.Sprintf("p%d", i)
		for range i + 1 {
			s.Apply(evRec(event.View, "u", id, "", t0))
		}
	}
	ix := s.RefreshIndex()
	checkScored(t, "Global", ix.Global, []Scored{{"p9", 10}, {"p8", 9}, {"p7", 8}})
	if len(ix.Trending) != 3 {
		t.Errorf("len(Trending) = %d, want 3", len(ix.Trending))
	}
}

func checkScored(t *testing.T, what string, got, want []Scored) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].ID == want[i].ID && math.Abs(got[i].Score-want[i].Score) < 1e-6*math.Max(1, want[i].Score)
	}
	if !ok {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// randomRecords is a deterministic mix of catalog upserts, events of every
// type and impressions over a small world.
func randomRecords(seed uint64, n int) []*event.Record {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cats := []string{"shoes", "hats", "books", "toys", ""}
	var out []*event.Record
	at := t0
	for i := range n {
		at += rng.Int64N(10 * 60e3)
		switch r := rng.IntN(20); {
		case r == 0:
			p := event.Product{ID: fmt.Sprintf("p%d", rng.IntN(40)), Category: cats[rng.IntN(len(cats))], Time: at}
			if rng.IntN(2) == 0 {
				p.Price, p.HasPrice = float64(rng.IntN(10000))/100, true
			}
			if rng.IntN(2) == 0 {
				p.Inventory, p.HasInventory = int64(rng.IntN(5)), true
			}
			if rng.IntN(3) == 0 {
				p.Promoted, p.HasPromoted = rng.IntN(2) == 0, true
			}
			if rng.IntN(4) == 0 {
				p.Available, p.HasAvailable = rng.IntN(3) > 0, true
			}
			if rng.IntN(3) == 0 {
				p.Attributes = map[string]string{"color": fmt.Sprint(rng.IntN(3))}
			}
			out = append(out, &event.Record{Kind: event.KindProduct, Product: p})
		case r == 1:
			im := event.Impression{RequestID: fmt.Sprint(i), UserID: fmt.Sprintf("u%d", rng.IntN(35)), Time: at}
			for k := range rng.IntN(4) {
				im.Items = append(im.Items, event.ImpressionItem{ProductID: fmt.Sprintf("p%d", rng.IntN(45)), Position: int32(k)})
			}
			out = append(out, &event.Record{Kind: event.KindImpression, Impression: im})
		default:
			e := event.Event{Type: event.Type(1 + rng.IntN(6)), UserID: fmt.Sprintf("u%d", rng.IntN(30)),
				ProductID: fmt.Sprintf("p%d", rng.IntN(40)), Price: -1, Quantity: int32(1 + rng.IntN(3)), Time: at, Ingested: at + 3}
			if rng.IntN(3) > 0 {
				e.SessionID = fmt.Sprintf("s%d", rng.IntN(8))
			}
			if rng.IntN(4) == 0 {
				e.Category = cats[rng.IntN(len(cats))]
			}
			if rng.IntN(4) == 0 {
				e.Price = float64(rng.IntN(5000)) / 100
			}
			if e.Type == event.Review {
				e.Rating = int8(1 + rng.IntN(5))
			}
			if rng.IntN(10) == 0 {
				e.Time -= rng.Int64N(3 * 3600e3) // late arrival
			}
			out = append(out, &event.Record{Kind: event.KindEvent, Event: e})
		}
	}
	return out
}

func TestSnapshotRestore(t *testing.T) {
	opt := Options{Now: fixedClock(t0 + 3600e3), MaxNeighbors: 5}
	src := New(opt)
	recs := randomRecords(42, 600)
	for _, r := range recs {
		src.Apply(r)
	}
	var buf bytes.Buffer
	if err := src.Snapshot(&buf); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	dst := New(opt)
	// State that the restore must replace, not merge with.
	dst.Apply(evRec(event.View, "stale-user", "stale-product", "", t0))
	if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if a, b := src.Stats(), dst.Stats(); a != b {
		t.Errorf("Stats: restored %+v, want %+v", b, a)
	}
	if st := src.Stats(); st.Users < 20 || st.Products < 30 || st.CoVisitItems < 20 || st.Applied != int64(len(recs)) {
		t.Fatalf("the random world is too small to test anything: %+v", st)
	}
	if _, ok := dst.User("stale-user"); ok {
		t.Error("Restore kept a user that is not in the snapshot")
	}
	if _, ok := dst.Product("stale-product"); ok {
		t.Error("Restore kept a product that is not in the snapshot")
	}
	for i := range 50 {
		id := fmt.Sprintf("u%d", i)
		a, aok := src.User(id)
		b, bok := dst.User(id)
		if aok != bok || !reflect.DeepEqual(a, b) {
			t.Errorf("User(%s): restored %+v, want %+v", id, b, a)
		}
		id = fmt.Sprintf("p%d", i)
		pa, aok := src.Product(id)
		pb, bok := dst.Product(id)
		if aok != bok || !reflect.DeepEqual(pa, pb) {
			t.Errorf("Product(%s): restored %+v, want %+v", id, pb, pa)
		}
		if ca, cb := src.CoVisited(id, 1000), dst.CoVisited(id, 1000); !reflect.DeepEqual(ca, cb) {
			t.Errorf("CoVisited(%s): restored %v, want %v", id, cb, ca)
		}
	}
	if a, b := src.RefreshIndex(), dst.RefreshIndex(); !reflect.DeepEqual(a, b) {
		t.Errorf("indexes differ after restore:\n%+v\n%+v", b, a)
	}
	// Both go on identically.
	more := randomRecords(7, 100)
	for _, r := range more {
		src.Apply(r)
		dst.Apply(r)
	}
	for i := range 40 {
		id := fmt.Sprintf("p%d", i)
		if ca, cb := src.CoVisited(id, 1000), dst.CoVisited(id, 1000); !reflect.DeepEqual(ca, cb) {
			t.Errorf("after more events CoVisited(%s): %v, want %v", id, cb, ca)
		}
	}
}

func TestRestoreRefusesBadInput(t *testing.T) {
	s := New(Options{})
	s.Apply(evRec(event.View, "u", "p", "", t0))
	var good bytes.Buffer
	if err := s.Snapshot(&good); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not a snapshot at all")},
		{"truncated", good.Bytes()[:good.Len()-3]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := New(Options{})
			dst.Apply(evRec(event.View, "keep", "p", "", t0))
			if err := dst.Restore(bytes.NewReader(tt.data)); err == nil {
				t.Fatal("Restore accepted bad input")
			}
			if _, ok := dst.User("keep"); !ok {
				t.Error("a failed Restore lost the existing state")
			}
		})
	}
}

// TestConcurrentReaders applies 10,000 events while readers copy users,
// products, co-visitation lists, stats and the index. Run with -race.
func TestConcurrentReaders(t *testing.T) {
	s := New(Options{Now: fixedClock(t0 + 3600e3), MaxNeighbors: 8})
	recs := randomRecords(99, 10000)
	var done atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan error, 8)
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			lastApplied := int64(0)
			lastTotal := map[string]int64{}
			out := make([]*feature.Product, 3)
			for !done.Load() {
				uid := fmt.Sprintf("u%d", rng.IntN(30))
				if u, ok := s.User(uid); ok {
					if u.Total < lastTotal[uid] {
						errs <- fmt.Errorf("user %s went back from %d to %d events", uid, lastTotal[uid], u.Total)
						return
					}
					lastTotal[uid] = u.Total
					var n int64
					for _, c := range u.Cats {
						n += c.Count
					}
					if n > u.Total || len(u.Recent) > s.Options().Features.RecentItems {
						errs <- fmt.Errorf("inconsistent user copy: %+v", u)
						return
					}
				}
				s.Products([]string{fmt.Sprintf("p%d", rng.IntN(40)), "p1", "nope"}, out)
				for _, p := range out {
					if p != nil {
						_ = p.Attributes["color"]
						_ = p.Popularity.At(t0, 1000)
					}
				}
				for _, sc := range s.CoVisited(fmt.Sprintf("p%d", rng.IntN(40)), 5) {
					if sc.Score <= 0 {
						errs <- fmt.Errorf("co-visitation score %v", sc)
						return
					}
				}
				st := s.Stats()
				if st.Applied < lastApplied {
					errs <- fmt.Errorf("Applied went back from %d to %d", lastApplied, st.Applied)
					return
				}
				lastApplied = st.Applied
				for _, sc := range s.Index().Global {
					_ = sc.Score
				}
				reads.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() { // one index builder, as in production
		defer wg.Done()
		for !done.Load() {
			s.RefreshIndex()
			time.Sleep(time.Millisecond)
		}
	}()
	for i, r := range recs {
		s.Apply(r)
		if i == len(recs)/2 {
			// Make sure the readers overlap the writes: wait (bounded) for
			// a few reads before applying the second half.
			for deadline := time.Now().Add(5 * time.Second); reads.Load() < 10 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := s.Stats(); st.Applied != int64(len(recs)) {
		t.Errorf("Applied = %d, want %d", st.Applied, len(recs))
	}
	if reads.Load() == 0 {
		t.Error("the readers never ran")
	}
}

// TestConcurrentApplyPartitioned applies events from two goroutines, each
// owning a partition of the users (as the stream's partitions do), with
// readers running: users, co-visitation and product counters must end as
// after a sequential replay.
func TestConcurrentApplyPartitioned(t *testing.T) {
	var recs []*event.Record
	for _, r := range randomRecords(5, 6000) {
		if r.Kind != event.KindEvent {
			continue
		}
		e := &r.Event
		e.Category = "c" + e.ProductID[len(e.ProductID)-1:] // one category per product
		if e.Price < 0 {
			e.Price = 10
		}
		recs = append(recs, r)
	}
	opt := Options{Now: fixedClock(t0)}
	seq := New(opt)
	for _, r := range recs {
		seq.Apply(r)
	}
	par := New(opt)
	var parts [2][]*event.Record
	for _, r := range recs {
		k := int(r.Event.UserID[len(r.Event.UserID)-1]) % 2
		parts[k] = append(parts[k], r)
	}
	var done atomic.Bool
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for i := 0; !done.Load(); i++ {
			par.User(fmt.Sprintf("u%d", i%30))
			par.CoVisited(fmt.Sprintf("p%d", i%40), 10)
			par.Product(fmt.Sprintf("p%d", i%40))
			par.RefreshIndex()
		}
	}()
	var writers sync.WaitGroup
	for _, part := range parts {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for _, r := range part {
				par.Apply(r)
			}
		}()
	}
	writers.Wait()
	done.Store(true)
	readers.Wait()

	if a, b := seq.Stats(), par.Stats(); a.Users != b.Users || a.Products != b.Products || a.CoVisitItems != b.CoVisitItems || a.Applied != b.Applied {
		t.Errorf("Stats: concurrent %+v, sequential %+v", b, a)
	}
	for i := range 40 {
		uid, pid := fmt.Sprintf("u%d", i), fmt.Sprintf("p%d", i)
		if a, b := must(seq.User(uid)), must(par.User(uid)); !reflect.DeepEqual(a, b) {
			t.Errorf("User(%s): concurrent %+v, sequential %+v", uid, b, a)
		}
		if a, b := seq.CoVisited(pid, 1000), par.CoVisited(pid, 1000); !reflect.DeepEqual(a, b) {
			t.Errorf("CoVisited(%s): concurrent %v, sequential %v", pid, b, a)
		}
		a, b := must(seq.Product(pid)), must(par.Product(pid))
		if (a == nil) != (b == nil) || a != nil && (a.Views != b.Views || a.Clicks != b.Clicks || a.Carts != b.Carts ||
			a.Purchases != b.Purchases || a.Reviews != b.Reviews || a.RatingSum != b.RatingSum || a.Category != b.Category ||
			a.Updated != b.Updated || math.Abs(a.Popularity.At(t0, 1e9)-b.Popularity.At(t0, 1e9)) > 1e-6) {
			t.Errorf("Product(%s): concurrent %+v, sequential %+v", pid, b, a)
		}
	}
}

func must[T any](v *T, _ bool) *T { return v }
