package window_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
	"github.com/recohq/reco/internal/window"
)

var ctx = context.Background()

// base is a window start: 2025-03-10 12:00 UTC.
var base = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC).UnixMilli()

const minute = 60_000

func ev(user string, typ event.Type, at int64, cat string) *event.Record {
	return &event.Record{Kind: event.KindEvent, Event: event.Event{Type: typ, UserID: user, ProductID: "p", Category: cat,
		Price: -1, Quantity: 1, Time: at}}
}

type rig struct {
	t     *testing.T
	store *offline.Store
	agg   *window.Aggregator
	late  atomic.Int64
}

func newRig(t *testing.T, o window.Options) *rig {
	st, err := offline.New(fileblob.New(t.TempDir()), offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, store: st}
	o.Hooks.OnLate = func(n int) { r.late.Add(int64(n)) }
	r.agg, err = window.New(st, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkpoint does what the stream processor and the app do: Snapshot, then
// (the checkpoint being durable) Committed, then Flush.
func (r *rig) checkpoint() []byte {
	var b bytes.Buffer
	if err := r.agg.Snapshot(&b); err != nil {
		r.t.Fatal(err)
	}
	r.agg.Committed()
	if err := r.agg.Flush(ctx); err != nil {
		r.t.Fatal(err)
	}
	return b.Bytes()
}

func (r *rig) rows() []offline.Row {
	tb, err := r.store.ReadRows(ctx, offline.UserFeatures, 0, 1<<50, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	out := make([]offline.Row, tb.Len())
	for i := range out {
		out[i] = tb.Row(i)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Time < out[j].Time
	})
	return out
}

func (r *rig) events(set string) []event.Event {
	evs, err := r.store.ReadEvents(ctx, set, 0, 1<<50)
	if err != nil {
		r.t.Fatal(err)
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].UserID != evs[j].UserID {
			return evs[i].UserID < evs[j].UserID
		}
		return evs[i].Time < evs[j].Time
	})
	return evs
}

func TestWindowBoundariesAndAggregates(t *testing.T) {
	r := newRig(t, window.Options{})
	a := r.agg
	a.Apply(ev("u", event.View, base, "shoes"))
	a.Apply(ev("u", event.Click, base+1000, "shoes"))
	a.Apply(ev("u", event.Click, base+2000, "hats"))
	a.Apply(ev("u", event.AddToCart, base+3000, ""))
	a.Apply(ev("u", event.Purchase, base+5*minute-1, "hats")) // last ms of the window
	a.Apply(ev("u", event.Click, base+5*minute, "bags"))      // exactly at the end: the next window
	a.Apply(&event.Record{Kind: event.KindProduct})           // ignored
	// Not closed yet: the watermark is 10 s behind the newest event.
	a.Apply(ev("v", event.View, base+10*minute+10_000-1, ""))
	r.checkpoint()
	if got := r.rows(); len(got) != 1 {
		t.Fatalf("rows before the watermark passes the second window: %+v", got)
	}
	a.Apply(ev("v", event.View, base+10*minute+10_000, "")) // watermark = base+10m: closes [5m,10m)
	r.checkpoint()
	got := r.rows()
	want := []offline.Row{
		{Key: "u", Time: base + 5*minute, Values: []offline.Value{offline.Int(5), offline.Int(2), offline.Int(1), offline.Int(1),
			offline.Float(0.5), offline.Int(2), offline.Int(base), offline.Int(base + 5*minute - 1)}},
		{Key: "u", Time: base + 10*minute, Values: []offline.Value{offline.Int(1), offline.Int(1), offline.Int(0), offline.Int(0),
			offline.Float(0), offline.Int(1), offline.Int(base + 5*minute), offline.Int(base + 5*minute)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows\n got %+v\nwant %+v", got, want)
	}
	if n := len(r.events(offline.EventsSet)); n != 8 {
		t.Fatalf("archived %d events, want 8", n)
	}
	if r.late.Load() != 0 {
		t.Fatalf("late %d", r.late.Load())
	}
}

func TestWatermarkAndLateness(t *testing.T) {
	r := newRig(t, window.Options{AllowedLateness: 2 * time.Minute})
	a := r.agg
	a.Apply(ev("u", event.Click, base+minute, ""))
	// The watermark passes the first window's end (base+5m) but not
	// end + lateness (base+7m): a late event still lands in its window.
	a.Apply(ev("x", event.View, base+6*minute+10_000, ""))
	if w := a.Watermark(); w != base+6*minute {
		t.Fatalf("watermark %d, want %d", w, base+6*minute)
	}
	a.Apply(ev("u", event.Click, base+2*minute, "")) // late, within lateness
	r.checkpoint()
	if got := r.rows(); len(got) != 0 {
		t.Fatalf("closed before end + lateness: %+v", got)
	}
	a.Apply(ev("x", event.View, base+7*minute+10_000, "")) // watermark = end + lateness: closes
	a.Apply(ev("u", event.Click, base+3*minute, ""))       // beyond lateness: side output
	a.Apply(ev("w", event.Purchase, base+4*minute, ""))    // a window never opened, also closed
	r.checkpoint()
	got := r.rows()
	if len(got) != 1 || got[0].Key != "u" || got[0].Time != base+5*minute || got[0].Values[1].Int != 2 {
		t.Fatalf("the late-within-lateness event is not in its own window: %+v", got)
	}
	if r.late.Load() != 2 {
		t.Fatalf("late count %d, want 2", r.late.Load())
	}
	late := r.events(offline.LateEventsSet)
	if len(late) != 2 || late[0].UserID != "u" || late[0].Time != base+3*minute || late[1].UserID != "w" {
		t.Fatalf("side output %+v", late)
	}
	if n := len(r.events(offline.EventsSet)); n != 6 {
		t.Fatalf("the archive holds %d events, want all 6 (late ones too)", n)
	}
}

// genEvents makes n events of 50 users over ~2 hours, mostly in order with
// some disorder (up to 40 s back, some beyond the watermark).
func genEvents(n int) []*event.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	var out []*event.Record
	t := base
	for i := 0; i < n; i++ {
		t += int64(rng.IntN(3000))
		at := t
		if rng.IntN(10) == 0 {
			at -= int64(rng.IntN(40_000))
		}
		typ := event.Type(1 + rng.IntN(6))
		out = append(out, ev(fmt.Sprintf("u%02d", rng.IntN(50)), typ, at, fmt.Sprintf("c%d", rng.IntN(5))))
	}
	return out
}

func TestExactlyOnceAcrossCrash(t *testing.T) {
	evs := genEvents(6000)
	// The clean run: checkpoints every 700 events.
	clean := newRig(t, window.Options{})
	for i, e := range evs {
		clean.agg.Apply(e)
		if i%700 == 699 {
			clean.checkpoint()
		}
	}
	clean.checkpoint()
	want, wantEvents, wantLate := clean.rows(), clean.events(offline.EventsSet), clean.events(offline.LateEventsSet)
	if len(want) < 100 || len(wantLate) == 0 {
		t.Fatalf("weak test data: %d rows, %d late", len(want), len(wantLate))
	}

	for _, crash := range []string{"before-commit", "after-commit-before-flush", "after-flush"} {
		t.Run(crash, func(t *testing.T) {
			r := newRig(t, window.Options{})
			var ckpt []byte
			ckptAt := 0
			for i, e := range evs[:2500] {
				r.agg.Apply(e)
				if i%900 == 899 {
					ckpt, ckptAt = r.checkpoint(), i+1
				}
			}
			// One more checkpoint attempt, then the crash.
			var b bytes.Buffer
			if err := r.agg.Snapshot(&b); err != nil {
				t.Fatal(err)
			}
			switch crash {
			case "before-commit": // the checkpoint file never became durable
			case "after-commit-before-flush":
				ckpt, ckptAt = b.Bytes(), 2500
				r.agg.Committed()
			case "after-flush":
				ckpt, ckptAt = b.Bytes(), 2500
				r.agg.Committed()
				r.agg.Flush(ctx)
			}
			// More applied (and even flushed, as a concurrent Run would) after it.
			for _, e := range evs[2500:3100] {
				r.agg.Apply(e)
			}
			r.agg.Flush(ctx)
			// Crash: the process state is gone. Restart from the checkpoint
			// and replay the log from its offset.
			agg2, err := window.New(r.store, window.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := agg2.Restore(bytes.NewReader(ckpt)); err != nil {
				t.Fatal(err)
			}
			r.agg = agg2
			for i, e := range evs[ckptAt:] {
				r.agg.Apply(e)
				if i%500 == 499 {
					r.checkpoint()
				}
			}
			r.checkpoint()
			if got := r.rows(); !reflect.DeepEqual(got, want) {
				t.Fatalf("offline rows differ from a clean run: %d rows, want %d", len(got), len(want))
			}
			if got := r.events(offline.EventsSet); !reflect.DeepEqual(got, wantEvents) {
				t.Fatalf("archive differs from a clean run: %d events, want %d", len(got), len(wantEvents))
			}
			if got := r.events(offline.LateEventsSet); !reflect.DeepEqual(got, wantLate) {
				t.Fatalf("side output differs: %d, want %d", len(got), len(wantLate))
			}
		})
	}
}

func TestConcurrentApplyAndRun(t *testing.T) {
	r := newRig(t, window.Options{Size: time.Minute})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- r.agg.Run(runCtx, 10*time.Millisecond, func(err error) { t.Error(err) }) }()
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				r.agg.Apply(ev(fmt.Sprintf("u%d-%d", p, i%20), event.Click, base+int64(i)*100, "c"))
			}
		}(p)
	}
	for i := 0; i < 5; i++ {
		var b bytes.Buffer
		r.agg.Snapshot(&b) // not paused: Snapshot must still be race-free
		r.agg.Committed()
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	var b bytes.Buffer
	r.agg.Snapshot(&b)
	r.agg.Committed()
	cancel()
	<-done
	if n := len(r.events(offline.EventsSet)); n != 8000 {
		t.Fatalf("archived %d events, want 8000", n)
	}
	var total int64
	for _, row := range r.rows() {
		total += row.Values[0].Int
	}
	if total+r.late.Load() > 8000 {
		t.Fatalf("window rows count %d events + %d late > 8000", total, r.late.Load())
	}
}

func TestSnapshotProducts(t *testing.T) {
	r := newRig(t, window.Options{})
	p1 := feature.NewProduct("p1")
	p1.Category, p1.Price, p1.Inventory, p1.Views, p1.Purchases = "shoes", 10, 3, 10, 1
	p2 := feature.NewProduct("p2")
	at := time.UnixMilli(base)
	n, err := window.SnapshotProducts(ctx, r.store, at, feature.Options{}, func(yield func(*feature.Product) bool) {
		_ = yield(p2) && yield(p1)
	})
	if err != nil || n != 2 {
		t.Fatal(n, err)
	}
	res, err := r.store.PointInTime(ctx, offline.ProductFeatures, []string{"category", "price", "conversion_rate", "inventory_level"},
		[]offline.EntityRow{{Key: "p1", Time: base}, {Key: "p2", Time: base + 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Cols[0].Strs[0] != "shoes" || res.Cols[1].Floats[0] != 10 || res.Cols[2].Floats[0] != 0.1 || res.Cols[3].Ints[0] != 3 {
		t.Fatalf("p1: %+v", res.Cols)
	}
	if !res.Matched[1] || !res.Cols[1].Null[1] || !res.Cols[3].Null[1] {
		t.Fatalf("p2 (unknown price and stock): %+v", res)
	}
}
