package memstore

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
)

// BenchmarkSnapshot writes the state of 100k users with 20 events each and
// 10k products: the CPU a checkpoint costs.
func BenchmarkSnapshot(b *testing.B) {
	s := New(Options{})
	rng := rand.New(rand.NewPCG(1, 1))
	t0 := time.Now().UnixMilli()
	var r event.Record
	for u := 0; u < 100000; u++ {
		for i := 0; i < 20; i++ {
			r = event.Record{Kind: event.KindEvent, Event: event.Event{Type: event.View, UserID: fmt.Sprintf("u%06d", u),
				ProductID: fmt.Sprintf("p%05d", rng.IntN(10000)), Category: fmt.Sprintf("c%d", rng.IntN(50)), SessionID: "s",
				Price: 10, Quantity: 1, Time: t0 + int64(i)*1000}}
			s.Apply(&r)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Snapshot(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
