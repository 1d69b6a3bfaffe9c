package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/event/kafkalog"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/stream"
	"github.com/recohq/reco/internal/window"
)

// BenchmarkStreamOverKafka measures the stream side of Kafka mode: records
// already in a kfake topic (loopback, the real wire protocol) fetched,
// decoded and applied to the state a Kafka-mode partition keeps (online
// features with co-visitation, and the offline windows), one goroutine per
// partition as the processors of a stream worker run them. Each iteration
// starts from an empty state at offset 0. events/s counts applied events.
//
//	go test -run '^$' -bench StreamOverKafka -benchtime 3x ./internal/app/
func BenchmarkStreamOverKafka(b *testing.B) {
	for _, parts := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) { benchStreamOverKafka(b, parts) })
	}
}

func benchStreamOverKafka(b *testing.B, parts int) {
	const total, users, products = 200_000, 20_000, 10_000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(parts), kafkalog.DefaultTopic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := kafkalog.Open(ctx, kafkalog.Options{Brokers: c.ListenAddrs()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 2, products-1)
	types := []event.Type{event.View, event.View, event.View, event.Click, event.Click, event.AddToCart, event.Purchase}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	recs := make([]kafkalog.Record, 0, 1000)
	for i := 0; i < total; i++ {
		u := fmt.Sprintf("u%d", rng.IntN(users))
		e := event.Event{Type: types[rng.IntN(len(types))], UserID: u, ProductID: fmt.Sprintf("p%d", zipf.Uint64()),
			SessionID: u + "-s", Category: fmt.Sprintf("c%d", rng.IntN(50)), Price: 10, Quantity: 1,
			Time: t0 + int64(i)*10, Ingested: t0 + int64(i)*10}
		recs = append(recs, kafkalog.Record{Partition: partitionOf(u, parts), Key: []byte(u), Data: event.AppendEvent(nil, &e)})
		if len(recs) == cap(recs) {
			if _, err := l.Append(ctx, recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	ends := make([]int64, parts)
	for p := range ends {
		ends[p] = l.EndOffset(p)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store := memstore.New(memstore.Options{Features: feature.Options{}.WithDefaults(), TrackDirty: true})
		win, err := window.New(discardSink{}, window.Options{})
		if err != nil {
			b.Fatal(err)
		}
		state := &stream.Multi{Names: []string{"online", "windows"}, States: []stream.State{store, win}}
		proc := stream.New(offsetZero{l.Source()}, state, stream.Options{Dir: b.TempDir(), CheckpointInterval: time.Hour})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- proc.Run(runCtx) }()
		if err := proc.WaitFor(ctx, ends); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		stop()
		<-done
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*total)/b.Elapsed().Seconds(), "events/s")
}

// offsetZero is a Source that never commits (nothing to share here).
type offsetZero struct{ kafkalog.Source }

func (offsetZero) Commit(int, int64) {}

// discardSink drops window rows: the benchmark measures the stream, not
// Parquet writes.
type discardSink struct{}

func (discardSink) WriteRows(context.Context, string, string, []offline.Row) error { return nil }
func (discardSink) WriteEvents(context.Context, string, string, []event.Event) error {
	return nil
}
