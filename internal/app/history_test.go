package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/offline"
)

// TestScanHistoryReachesPastRetention: once retention deleted the oldest
// log segments, training's history still holds every event, the deleted
// ones from the offline archive, none twice.
func TestScanHistoryReachesPastRetention(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.EventLog.Partitions = 2
	cfg.EventLog.SegmentBytes = 1 << 16
	cfg.EventLog.Retention = config.Duration(time.Millisecond)
	cfg.OnlineStore.CheckpointInterval = config.Duration(50 * time.Millisecond)
	cfg.Recommend.PrecomputeSchedule = ""
	a := openApp(t, cfg)
	defer runApp(t, a)()
	ctx := context.Background()
	const total = 6000
	t0 := time.Now().Add(-2 * time.Hour).UnixMilli()
	for b := 0; b < total/500; b++ {
		evs := make([]event.Event, 500)
		for i := range evs {
			k := b*500 + i
			evs[i] = event.Event{Type: event.View, UserID: fmt.Sprintf("u%d", k%50), ProductID: fmt.Sprintf("p%d", k%70),
				SessionID: "s", Price: -1, Quantity: 1, Time: t0 + int64(k)*1000}
		}
		if err := a.IngestEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct ingest times across batches
	}
	if err := a.WaitApplied(ctx); err != nil {
		t.Fatal(err)
	}
	// The archive gets every event once a checkpoint covers it.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		a.Proc.Checkpoint()
		evs, err := a.Offline.ReadEvents(ctx, offline.EventsSet, 0, time.Now().UnixMilli())
		if err == nil && len(evs) == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the archive holds %d events (%v), want %d", len(evs), err, total)
		}
	}
	if n, err := a.Log.EnforceRetention(); err != nil || n == 0 {
		t.Fatalf("retention deleted %d segments (%v); the test needs some deleted", n, err)
	}
	count := func(scan func(func(*event.Record) error) error) (int, map[int64]int) {
		n, seen := 0, map[int64]int{}
		if err := scan(func(r *event.Record) error {
			if r.Kind == event.KindEvent {
				n++
				seen[r.Event.Time]++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n, seen
	}
	inLog, _ := count(a.ScanLog)
	if inLog >= total {
		t.Fatalf("the log still holds %d of %d events after retention", inLog, total)
	}
	all, seen := count(a.ScanHistory)
	if all != total || len(seen) != total {
		t.Fatalf("history holds %d events (%d distinct), want each of %d once (the log alone: %d)", all, len(seen), total, inLog)
	}
}
