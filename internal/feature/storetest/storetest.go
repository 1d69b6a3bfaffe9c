// Package storetest is the contract every online store passes: one suite,
// run against the embedded store always and against Redis (standalone and
// Cluster) when a real server is available.
package storetest

import (
	"fmt"
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
		for _, id := range []string{"p3", "p10", "p33"} {
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
