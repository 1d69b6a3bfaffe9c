// Package storetest is the contract every online store passes: one suite,
// run against the embedded store always and against Redis (standalone and
// Cluster) when a real server is available.
package storetest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
)

// Store is the read side serving uses.
type Store interface {
	User(id string) (*feature.User, bool)
	Products(ids []string, out []*feature.Product)
	CoVisited(id string, n int) []memstore.Scored
	Index() *memstore.Index
}

// Load makes a store under test hold the state that applying recs to a
// fresh embedded store computes (ref, already applied and indexed).
type Load func(t *testing.T, ref *memstore.Store, recs []event.Record) Store

// Now is the clock of the suite's data.
var Now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// Records is the suite's deterministic history.
func Records(n int) []event.Record {
	rng := rand.New(rand.NewPCG(11, 12))
	var recs []event.Record
	for i := 0; i < 60; i++ {
		recs = append(recs, event.Record{Kind: event.KindProduct, Product: event.Product{ID: fmt.Sprintf("p%d", i), Category: fmt.Sprintf("c%d", i%4),
			Name: "product " + fmt.Sprint(i), Price: float64(5 + i), HasPrice: true, Inventory: int64(50 - i%7), HasInventory: true,
			Available: i%13 != 5, HasAvailable: true, Attributes: map[string]string{"colour": "red"}}})
	}
	types := []event.Type{event.View, event.View, event.Click, event.AddToCart, event.Purchase, event.Review}
	for i := 0; i < n; i++ {
		u := rng.IntN(30)
		e := event.Event{Type: types[rng.IntN(len(types))], UserID: fmt.Sprintf("u%d", u), ProductID: fmt.Sprintf("p%d", (u*3+rng.IntN(12))%60),
			SessionID: fmt.Sprintf("s%d-%d", u, i/100), Price: -1, Quantity: 1, Time: Now.Add(-time.Duration(n-i) * time.Minute).UnixMilli()}
		if e.Type == event.Review {
			e.Rating = int8(1 + rng.IntN(5))
		}
		recs = append(recs, event.Record{Kind: event.KindEvent, Event: e})
	}
	return recs
}

// Run runs the contract against the stores load makes.
func Run(t *testing.T, load Load) {
	recs := Records(2000)
	ref := memstore.New(memstore.Options{Now: func() time.Time { return Now }, TrackDirty: true})
	for i := range recs {
		ref.Apply(&recs[i])
	}
	ref.RefreshIndex()
	st := load(t, ref, recs)

	t.Run("users", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			id := fmt.Sprintf("u%d", i)
			want, ok := ref.User(id)
			got, ok2 := st.User(id)
			if ok != ok2 {
				t.Fatalf("user %s: found %v, want %v", id, ok2, ok)
			}
			if ok && !sameUser(got, want) {
				t.Errorf("user %s:\n got %+v\nwant %+v", id, got, want)
			}
			if ok && got.Features() != want.Features() {
				t.Errorf("user %s features %+v, want %+v", id, got.Features(), want.Features())
			}
		}
		if _, ok := st.User("nobody"); ok {
			t.Error("unknown user found")
		}
	})
	t.Run("products in one batch", func(t *testing.T) {
		ids := []string{"p0", "nope", "p7", "p59", "p5"}
		got := make([]*feature.Product, len(ids))
		st.Products(ids, got)
		want := make([]*feature.Product, len(ids))
		ref.Products(ids, want)
		o := feature.Options{}.WithDefaults()
		for i := range ids {
			if (got[i] == nil) != (want[i] == nil) {
				t.Fatalf("product %s: got %v, want %v", ids[i], got[i], want[i])
			}
			if want[i] == nil {
				continue
			}
			if !reflect.DeepEqual(got[i].Features(Now.UnixMilli(), &o), want[i].Features(Now.UnixMilli(), &o)) ||
				got[i].Name != want[i].Name || got[i].InStock() != want[i].InStock() || !reflect.DeepEqual(got[i].Attributes, want[i].Attributes) {
				t.Errorf("product %s:\n got %+v\nwant %+v", ids[i], got[i], want[i])
			}
		}
	})
	t.Run("co-visitation", func(t *testing.T) {
		checkCoVisit(t, st, ref, []string{"p3", "p10", "p33"})
	})
	t.Run("popularity index", func(t *testing.T) {
		want, got := ref.Index(), st.Index()
		if len(got.Global) != len(want.Global) || len(got.ByCategory) != len(want.ByCategory) {
			t.Fatalf("index: %d global, %d categories; want %d, %d", len(got.Global), len(got.ByCategory), len(want.Global), len(want.ByCategory))
		}
		for i := range want.Global {
			if got.Global[i].ID != want.Global[i].ID {
				t.Errorf("global %d: %s, want %s", i, got.Global[i].ID, want.Global[i].ID)
			}
		}
	})
}

// sameUser compares what serving uses of a user (affinities to float32).
func sameUser(a, b *feature.User) bool {
	if a.ID != b.ID || a.Total != b.Total || a.Clicks != b.Clicks || a.Purchases != b.Purchases || a.Carts != b.Carts ||
		a.Views != b.Views || a.First != b.First || a.Last != b.Last || a.PriceN != b.PriceN || a.Impressions != b.Impressions ||
		math.Abs(a.PriceSum-b.PriceSum) > 1e-9 || !reflect.DeepEqual(a.Recent, b.Recent) || !reflect.DeepEqual(a.Bought, b.Bought) ||
		len(a.Cats) != len(b.Cats) {
		return false
	}
	for c, s := range b.Cats {
		o := a.Cats[c]
		if o == nil || o.Count != s.Count || math.Abs(o.Affinity.V-s.Affinity.V) > 1e-5*math.Max(1, s.Affinity.V) {
			return false
		}
	}
	return true
}

// LoadPartitioned makes a store under test hold the states of parts, one
// per partition of the log, each already applied (from the events of its
// users and the catalog upserts of its products) and indexed.
type LoadPartitioned func(t *testing.T, parts []*memstore.Store) Store

// PartitionOf is the partition of a user's events, or of a product's
// catalog upserts, among n.
func PartitionOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// Split applies recs to n fresh stores, one per partition: events and
// impressions by user, catalog upserts by product; and indexes them.
func Split(recs []event.Record, n int) []*memstore.Store {
	parts := make([]*memstore.Store, n)
	for i := range parts {
		parts[i] = memstore.New(memstore.Options{Now: func() time.Time { return Now }, TrackDirty: true})
	}
	for i := range recs {
		r := &recs[i]
		var p int
		switch r.Kind {
		case event.KindProduct:
			p = PartitionOf(r.Product.ID, n)
		case event.KindImpression:
			p = PartitionOf(r.Impression.UserID, n)
		default:
			p = PartitionOf(r.Event.UserID, n)
		}
		parts[p].Apply(r)
	}
	for _, p := range parts {
		p.RefreshIndex()
	}
	return parts
}

// RunPartitioned runs the contract of a store that n partitions of the log
// write, each from a state of its own (Split). It serves a user as its
// partition computed it, and a product, a co-visitation list and the
// popularity index as the merge of the partitions' (feature.MergeProducts,
// memstore.MergeScored, memstore.MergeIndexes): what one state of the whole
// history holds, except that a product's inventory counts only the
// purchases of its catalog partition's users (an upper bound), and that the
// merged index may list products the catalog marks unavailable (serving
// drops them when it reads the products) and lists a product under its
// category only when a partition did (see memstore.MergeIndexes).
func RunPartitioned(t *testing.T, n int, load LoadPartitioned) {
	recs := Records(2000)
	ref := memstore.New(memstore.Options{Now: func() time.Time { return Now }})
	for i := range recs {
		ref.Apply(&recs[i])
	}
	ref.RefreshIndex()
	parts := Split(recs, n)
	st := load(t, parts)

	t.Run("users", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			id := fmt.Sprintf("u%d", i)
			want, ok := parts[PartitionOf(id, n)].User(id)
			got, ok2 := st.User(id)
			if ok != ok2 {
				t.Fatalf("user %s: found %v, want %v", id, ok2, ok)
			}
			if ok && (!sameUser(got, want) || got.Features() != want.Features()) {
				t.Errorf("user %s:\n got %+v\nwant %+v", id, got, want)
			}
		}
		if _, ok := st.User("nobody"); ok {
			t.Error("unknown user found")
		}
	})
	t.Run("products", func(t *testing.T) {
		ids := []string{"p0", "nope", "p7", "p59", "p5", "p18", "p33"}
		got := make([]*feature.Product, len(ids))
		st.Products(ids, got)
		want := make([]*feature.Product, len(ids))
		ref.Products(ids, want)
		o := feature.Options{}.WithDefaults()
		now := Now.UnixMilli()
		for i, id := range ids {
			g, w := got[i], want[i]
			if (g == nil) != (w == nil) {
				t.Fatalf("product %s: got %v, want %v", id, g, w)
			}
			if w == nil {
				continue
			}
			gf, wf := g.Features(now, &o), w.Features(now, &o)
			if math.Abs(gf.PopularityScore-wf.PopularityScore) > 1e-9*wf.PopularityScore {
				t.Errorf("product %s popularity %v, want %v", id, gf.PopularityScore, wf.PopularityScore)
			}
			if g.Inventory < w.Inventory {
				t.Errorf("product %s inventory %d below the whole history's %d", id, g.Inventory, w.Inventory)
			}
			gf.PopularityScore, gf.InventoryLevel = wf.PopularityScore, wf.InventoryLevel
			if !reflect.DeepEqual(gf, wf) || g.Name != w.Name || g.InStock() != w.InStock() || !reflect.DeepEqual(g.Attributes, w.Attributes) ||
				g.Views != w.Views || g.Clicks != w.Clicks || g.Carts != w.Carts || g.Purchases != w.Purchases || g.Reviews != w.Reviews ||
				g.RatingSum != w.RatingSum || g.Impressions != w.Impressions || g.Updated != w.Updated || g.InCatalog != w.InCatalog {
				t.Errorf("product %s:\n got %+v\nwant %+v", id, g, w)
			}
		}
	})
	t.Run("co-visitation", func(t *testing.T) {
		var ids []string
		for i := 0; i < 60; i += 3 {
			ids = append(ids, fmt.Sprintf("p%d", i))
		}
		checkCoVisit(t, st, ref, ids)
	})
	t.Run("popularity index", func(t *testing.T) {
		want, got := ref.Index(), st.Index()
		if got.Built != want.Built {
			t.Errorf("built %d, want %d", got.Built, want.Built)
		}
		// What serving keeps: the products in stock.
		inStock := func(l []memstore.Scored) []memstore.Scored {
			ids := make([]string, len(l))
			for i, s := range l {
				ids[i] = s.ID
			}
			ps := make([]*feature.Product, len(ids))
			st.Products(ids, ps)
			var out []memstore.Scored
			for i, p := range ps {
				if p != nil && p.InStock() {
					out = append(out, l[i])
				}
			}
			return out
		}
		same := func(name string, got, want []memstore.Scored) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("%s: %d in stock, want %d", name, len(got), len(want))
			}
			for i := range want {
				// Near ties may swap: compare the scores at each rank.
				if math.Abs(got[i].Score-want[i].Score) > 1e-5*want[i].Score {
					t.Errorf("%s %d: %+v, want %+v", name, i, got[i], want[i])
				}
			}
		}
		same("global", inStock(got.Global), want.Global)
		if len(got.ByCategory) != len(want.ByCategory) || got.Categories != want.Categories {
			t.Fatalf("%d categories, want %d", len(got.ByCategory), len(want.ByCategory))
		}
		// A product is under its category when a partition lists it there:
		// one whose events name the category, or its catalog partition if
		// that one saw events on it.
		for c, l := range want.ByCategory {
			listed := map[string]bool{}
			for _, p := range parts {
				for _, s := range p.Index().ByCategory[c] {
					listed[s.ID] = true
				}
			}
			var w []memstore.Scored
			for _, s := range l {
				if listed[s.ID] {
					w = append(w, s)
				}
			}
			same(c, inStock(got.ByCategory[c]), w)
		}
		if got.MaxPop < want.MaxPop*(1-1e-5) { // it may be an unavailable product's
			t.Errorf("max popularity %v, want at least %v", got.MaxPop, want.MaxPop)
		}
	})
}

// checkCoVisit compares the neighbour lists of ids with the reference
// store's, and checks an unknown item has none and batched reads agree.
func checkCoVisit(t *testing.T, st Store, ref interface {
	CoVisited(id string, n int) []memstore.Scored
}, ids []string) {
	t.Helper()
	for _, id := range ids {
		want := ref.CoVisited(id, 10)
		got := st.CoVisited(id, 10)
		if len(got) != len(want) {
			t.Fatalf("%s: %d neighbours, want %d", id, len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].ID || math.Abs(got[i].Score-want[i].Score) > 1e-4*math.Max(1, want[i].Score) {
				t.Errorf("%s neighbour %d: %+v, want %+v", id, i, got[i], want[i])
			}
		}
	}
	if len(st.CoVisited("nope", 10)) != 0 {
		t.Error("neighbours of an unknown item")
	}
	checkBatch(t, st)
}

// checkBatch: a store that reads several co-visitation lists at once
// returns exactly what one read per item returns, in the order asked.
func checkBatch(t *testing.T, st Store) {
	t.Helper()
	bs, ok := st.(interface {
		CoVisitedMany(ids []string, n int) [][]memstore.Scored
	})
	if !ok {
		return
	}
	var ids []string
	for i := 0; i < 60; i += 2 {
		ids = append(ids, fmt.Sprintf("p%d", i))
	}
	ids = append(ids, "nope", "p1")
	got := bs.CoVisitedMany(ids, 7)
	if len(got) != len(ids) {
		t.Fatalf("CoVisitedMany returned %d lists for %d ids", len(got), len(ids))
	}
	for i, id := range ids {
		if want := st.CoVisited(id, 7); !reflect.DeepEqual(got[i], want) && !(len(got[i]) == 0 && len(want) == 0) {
			t.Errorf("CoVisitedMany[%d] (%s) = %v, CoVisited = %v", i, id, got[i], want)
		}
	}
}
