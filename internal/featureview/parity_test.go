package featureview

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature/memstore"
)

// randomLog is a shop's worth of events and catalog upserts in time order
// (with ties), some without category or price so that the catalog fills
// them in.
func randomLog(seed uint64, n int, start int64) []event.Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	cats := []string{"books", "shoes", "toys", "garden", "audio", "food", "games", "tools"}
	var out []event.Record
	t := start
	for i := 0; i < n; i++ {
		t += int64(rng.IntN(3)) * int64(rng.IntN(60_000))
		pid := fmt.Sprintf("p%d", rng.IntN(120))
		if rng.IntN(15) == 0 {
			p := event.Product{ID: pid, Time: t}
			if rng.IntN(2) == 0 {
				p.Category = cats[rng.IntN(len(cats))]
			}
			if rng.IntN(2) == 0 {
				p.HasPrice, p.Price = true, float64(rng.IntN(10000))/100
			}
			if rng.IntN(2) == 0 {
				p.HasInventory, p.Inventory = true, int64(rng.IntN(5))
			}
			out = append(out, event.Record{Kind: event.KindProduct, Product: p})
			continue
		}
		e := event.Event{Type: event.Type(1 + rng.IntN(6)), UserID: fmt.Sprintf("u%d", rng.IntN(40)), ProductID: pid,
			Price: -1, Quantity: int32(1 + rng.IntN(3)), Time: t, SessionID: fmt.Sprintf("s%d", rng.IntN(10))}
		if rng.IntN(3) > 0 {
			e.Category = cats[rng.IntN(len(cats))]
		}
		if rng.IntN(2) == 0 {
			e.Price = float64(rng.IntN(10000)) / 100
		}
		if e.Type == event.Review {
			e.Rating = int8(1 + rng.IntN(5))
		}
		out = append(out, event.Record{Kind: event.KindEvent, Event: e})
	}
	return out
}

func mustDefaults(t testing.TB) *Engine {
	t.Helper()
	v, od := Defaults()
	e, err := New(v, od, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestDefaultsMatchServedFeatures applies the same random log to the online
// store and to the Defaults() views and compares every served value.
func TestDefaultsMatchServedFeatures(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
			log := randomLog(seed, 4000, start)
			ms := memstore.New(memstore.Options{})
			en := mustDefaults(t)
			users, products := map[string]bool{}, map[string]bool{}
			var last int64
			for i := range log {
				ms.Apply(&log[i])
				en.Apply(&log[i])
				if log[i].Kind == event.KindEvent {
					users[log[i].Event.UserID] = true
					products[log[i].Event.ProductID] = true
					last = log[i].Event.Time
				} else {
					products[log[i].Product.ID] = true
				}
			}
			if d := time.Duration(last-start) * time.Millisecond; d > 7*24*time.Hour {
				t.Fatalf("log spans %v: past the product TTL", d)
			}
			now := time.UnixMilli(last).Add(time.Hour)
			ids := keys(users)
			names := []string{"total_events", "clicks", "purchases", "add_to_carts", "purchase_rate", "categories_viewed",
				"favorite_category", "avg_price_point", "first_event_time", "last_event_time", "purchase_tier"}
			rows, err := en.Get("user_features", ids, names, now)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				u, ok := ms.User(id)
				if !ok {
					t.Fatalf("memstore has no user %s", id)
				}
				want := u.Features()
				got := rows[i].Values
				for j, w := range []any{want.TotalEvents, want.Clicks, want.Purchases, want.AddToCarts, want.PurchaseRate,
					want.CategoriesViewed, want.FavoriteCategory, want.AvgPricePoint, want.FirstEventTime, want.LastEventTime, want.PurchaseTier} {
					g := got[j].Value
					if tm, ok := g.(time.Time); ok {
						g = tm.Format(time.RFC3339Nano)
					}
					if got[j].Status == Missing && w == "" {
						continue
					}
					if got[j].Status != Present || g != w {
						t.Errorf("user %s %s = %v (%v), want %v", id, names[j], g, got[j].Status, w)
					}
				}
			}
			pids := keys(products)
			pnames := []string{"category", "price", "popularity_score", "conversion_rate", "avg_rating", "inventory_level"}
			prows, err := en.Get("product_features", pids, pnames, now)
			if err != nil {
				t.Fatal(err)
			}
			fo := ms.Options().Features
			for i, id := range pids {
				p, ok := ms.Product(id)
				if !ok {
					t.Fatalf("memstore has no product %s", id)
				}
				want := p.Features(now.UnixMilli(), &fo)
				got := prows[i].Values
				wants := []any{want.Category, deref(want.Price), want.PopularityScore, want.ConversionRate, deref(want.AvgRating), deref(want.InventoryLevel)}
				for j, w := range wants {
					g := got[j].Value
					if got[j].Status == Missing && (w == nil || w == "") {
						continue
					}
					if got[j].Status != Present || g != w {
						t.Errorf("product %s %s = %v (%v), want %v", id, pnames[j], g, got[j].Status, w)
					}
				}
			}
		})
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
