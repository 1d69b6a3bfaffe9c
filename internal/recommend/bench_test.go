package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature/memstore"
)

// loadStore fills a store with nProducts products in 50 categories and
// nUsers users with a few events each, in the last day.
func loadStore(tb testing.TB, nProducts, nUsers, eventsPerUser int) *memstore.Store {
	tb.Helper()
	now := time.Now()
	st := memstore.New(memstore.Options{Now: func() time.Time { return now }})
	rng := rand.New(rand.NewPCG(7, 7))
	var r event.Record
	for i := 0; i < nProducts; i++ {
		r = event.Record{Kind: event.KindProduct, Product: event.Product{ID: fmt.Sprintf("p%06d", i), Category: fmt.Sprintf("c%02d", i%50),
			Price: float64(5 + i%200), HasPrice: true, Inventory: 100, HasInventory: true, Available: true, HasAvailable: true}}
		st.Apply(&r)
	}
	types := []event.Type{event.View, event.View, event.View, event.Click, event.AddToCart, event.Purchase}
	zipf := rand.NewZipf(rng, 1.1, 10, uint64(nProducts-1))
	for u := 0; u < nUsers; u++ {
		base := rng.IntN(nProducts)
		for k := 0; k < eventsPerUser; k++ {
			p := (base + int(zipf.Uint64())) % nProducts
			r = event.Record{Kind: event.KindEvent, Event: event.Event{Type: types[rng.IntN(len(types))], UserID: fmt.Sprintf("u%06d", u),
				ProductID: fmt.Sprintf("p%06d", p), SessionID: fmt.Sprintf("s%d", u), Price: -1, Quantity: 1,
				Time: now.Add(-time.Duration(rng.IntN(86400)) * time.Second).UnixMilli()}}
			st.Apply(&r)
		}
	}
	st.RefreshIndex()
	return st
}

// BenchmarkRecommend is one whole request (features, candidates, product
// features, scoring, rerank) against 100k products and 100k users.
func BenchmarkRecommend(b *testing.B) {
	st := loadStore(b, 100000, 100000, 5)
	s := New(st, nil, Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Recommend(ctx, Request{UserID: fmt.Sprintf("u%06d", rng.IntN(100000)), N: 10}); err != nil {
			b.Fatal(err)
		}
	}
}
