package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/event"
)

// BenchmarkReplay measures stream processing from the log: b.N events are
// appended to a fresh embedded log (not timed), then a new process opens the
// data dir and replays it into the online state (timed): decode, apply,
// co-visitation, as after a restart or an import.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.EventLog.Fsync = "never"
	cfg.OnlineStore.CheckpointInterval = config.Duration(time.Hour)
	a, err := Open(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	zipf := rand.NewZipf(rng, 1.1, 10, 99999)
	types := []event.Type{event.View, event.View, event.View, event.Click, event.AddToCart, event.Purchase}
	now := time.Now()
	ctx := context.Background()
	evs := make([]event.Event, 0, 1000)
	for i := 0; i < b.N; i++ {
		u := rng.IntN(100000)
		evs = append(evs, event.Event{Type: types[rng.IntN(len(types))], UserID: fmt.Sprintf("u%06d", u),
			ProductID: fmt.Sprintf("p%06d", int(zipf.Uint64())), SessionID: fmt.Sprintf("s%d-%d", u, i/5000), Price: float64(rng.IntN(300)),
			Quantity: 1, Time: now.Add(time.Duration(i) * time.Millisecond).UnixMilli()})
		if len(evs) == cap(evs) || i == b.N-1 {
			if err := a.IngestEvents(ctx, evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	a.Log.Close()

	b.ResetTimer()
	a2, err := Open(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a2.Proc.Run(runCtx) }()
	for !a2.Proc.Ready() {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	cancel()
	<-done
	a2.Log.Close()
}
