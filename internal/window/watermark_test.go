package window_test

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
	"github.com/recohq/reco/internal/window"
)

// evp is ev read from log partition part.
func evp(part int, user string, at int64) *event.Record {
	r := ev(user, event.Click, at, "")
	r.Partition = part
	return r
}

// clock is a settable processing-time clock.
type clock struct{ ms atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ms.Store(time.Date(2025, 3, 10, 13, 0, 0, 0, time.UTC).UnixMilli())
	return c
}

func (c *clock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *clock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// rowKeys lists the written rows as "user@end-minute".
func rowKeys(rows []offline.Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s@%dm", r.Key, (r.Time-base)/minute))
	}
	return out
}

func TestWatermarkIsMinimumOverPartitions(t *testing.T) {
	clk := newClock()
	r := newRig(t, window.Options{Now: clk.Now})
	a := r.agg
	a.Apply(evp(0, "slow", base+minute))
	// Partition 1 runs 20 minutes ahead. With one watermark for all
	// partitions this closed [0m, 5m), and the slow partition's next event
	// below was late.
	for m := int64(1); m <= 20; m++ {
		a.Apply(evp(1, "fast", base+m*minute))
	}
	if w := a.Watermark(); w != base+minute-10_000 {
		t.Fatalf("watermark %d, want the lagging partition's %d", w, base+minute-10_000)
	}
	a.Apply(evp(0, "slow", base+2*minute))
	r.checkpoint()
	if n := r.late.Load(); n != 0 {
		t.Fatalf("%d late events: the partition ahead closed a window the lagging one still fills", n)
	}
	if got := r.rows(); len(got) != 0 {
		t.Fatalf("windows closed while the lagging partition holds the watermark: %v", rowKeys(got))
	}
	// The lagging partition catches up to 10m10s: [0m, 5m) and [5m, 10m) close.
	a.Apply(evp(0, "slow", base+10*minute+10_000))
	if w := a.Watermark(); w != base+10*minute {
		t.Fatalf("watermark %d, want %d", w, base+10*minute)
	}
	r.checkpoint()
	got := r.rows()
	if keys := fmt.Sprint(rowKeys(got)); keys != "[fast@5m fast@10m slow@5m]" {
		t.Fatalf("rows %s", keys)
	}
	if slow := got[2]; slow.Values[0].Int != 2 {
		t.Fatalf("the lagging partition's window counts %d events, want 2", slow.Values[0].Int)
	}
	if r.late.Load() != 0 {
		t.Fatalf("late %d", r.late.Load())
	}
}

func TestIdlePartitionReleasesWatermark(t *testing.T) {
	clk := newClock()
	r := newRig(t, window.Options{Now: clk.Now, IdleTimeout: 30 * time.Second})
	a := r.agg
	a.Apply(evp(0, "quiet", base+minute))
	a.Apply(evp(1, "busy", base+20*minute))
	// 29 s later the quiet partition still holds the watermark.
	clk.Advance(29 * time.Second)
	a.Apply(evp(1, "busy", base+20*minute+1000))
	r.checkpoint()
	if w := a.Watermark(); w != base+minute-10_000 {
		t.Fatalf("watermark %d before the idle timeout, want %d", w, base+minute-10_000)
	}
	if got := r.rows(); len(got) != 0 {
		t.Fatalf("closed before the idle timeout: %v", rowKeys(got))
	}
	// 31 s after its last event partition 0 is idle: the next event of the
	// busy partition moves the watermark to the busy partition's.
	clk.Advance(2 * time.Second)
	a.Apply(evp(1, "busy", base+20*minute+2000))
	want := base + 20*minute + 2000 - 10_000
	if w := a.Watermark(); w != want {
		t.Fatalf("watermark %d with partition 0 idle, want %d", w, want)
	}
	r.checkpoint()
	if keys := fmt.Sprint(rowKeys(r.rows())); keys != "[quiet@5m]" {
		t.Fatalf("rows %s", keys)
	}
	// The idle partition returns behind the watermark: its old event is
	// late, and the watermark does not go back.
	a.Apply(evp(0, "quiet", base+2*minute))
	if w := a.Watermark(); w != want {
		t.Fatalf("watermark went back to %d, want %d", w, want)
	}
	r.checkpoint()
	if r.late.Load() != 1 {
		t.Fatalf("late %d, want 1", r.late.Load())
	}
	if late := r.events(offline.LateEventsSet); len(late) != 1 || late[0].Time != base+2*minute {
		t.Fatalf("side output %+v", late)
	}
	// Delivering again, it holds the watermark again: the busy partition
	// alone no longer moves it.
	a.Apply(evp(1, "busy", base+30*minute))
	if w := a.Watermark(); w != want {
		t.Fatalf("watermark %d after partition 0 delivered again, want %d", w, want)
	}
}

func TestNeverDeliveredAndAllIdle(t *testing.T) {
	clk := newClock()
	r := newRig(t, window.Options{Now: clk.Now, IdleTimeout: 30 * time.Second})
	a := r.agg
	// Partitions 0, 1, 3... never deliver; they do not hold the watermark.
	a.Apply(evp(2, "a", base+minute))
	a.Apply(evp(2, "a", base+6*minute))
	if w := a.Watermark(); w != base+6*minute-10_000 {
		t.Fatalf("watermark %d, want %d", w, base+6*minute-10_000)
	}
	a.Apply(evp(7, "b", base+20*minute))
	if w := a.Watermark(); w != base+6*minute-10_000 {
		t.Fatalf("watermark %d, want partition 2's %d", w, base+6*minute-10_000)
	}
	r.checkpoint()
	if keys := fmt.Sprint(rowKeys(r.rows())); keys != "[a@5m]" {
		t.Fatalf("rows %s", keys)
	}
	// Every partition idle (a finished replay): the newest partition's
	// watermark counts, and the next checkpoint closes its windows.
	clk.Advance(31 * time.Second)
	if w := a.Watermark(); w != base+20*minute-10_000 {
		t.Fatalf("watermark %d with every partition idle, want %d", w, base+20*minute-10_000)
	}
	r.checkpoint()
	if keys := fmt.Sprint(rowKeys(r.rows())); keys != "[a@5m a@10m]" {
		t.Fatalf("rows %s", keys)
	}
}

func TestRestoreKeepsPartitionWatermarks(t *testing.T) {
	clk := newClock()
	o := window.Options{Now: clk.Now, IdleTimeout: 30 * time.Second}
	r := newRig(t, o)
	o.Hooks.OnLate = func(n int) { r.late.Add(int64(n)) } // for the restored aggregators
	r.agg.Apply(evp(0, "slow", base+minute))
	r.agg.Apply(evp(3, "fast", base+20*minute))
	ckpt := r.checkpoint()

	// Restart 10 minutes later (processing time) from the checkpoint.
	clk.Advance(10 * time.Minute)
	agg2, err := window.New(r.store, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := agg2.Restore(bytes.NewReader(ckpt)); err != nil {
		t.Fatal(err)
	}
	r.agg = agg2
	if w := agg2.Watermark(); w != base+minute-10_000 {
		t.Fatalf("restored watermark %d, want partition 0's %d", w, base+minute-10_000)
	}
	// Both restored partitions count as active from the restore: the fast
	// one does not close the slow one's window.
	agg2.Apply(evp(3, "fast", base+21*minute))
	agg2.Apply(evp(0, "slow", base+2*minute))
	r.checkpoint()
	if r.late.Load() != 0 || len(r.rows()) != 0 {
		t.Fatalf("after restore: %d late, rows %v", r.late.Load(), rowKeys(r.rows()))
	}
	// A snapshot of the restored state restores the same per-partition times.
	var b bytes.Buffer
	if err := agg2.Snapshot(&b); err != nil {
		t.Fatal(err)
	}
	agg3, _ := window.New(r.store, o)
	if err := agg3.Restore(&b); err != nil {
		t.Fatal(err)
	}
	if w := agg3.Watermark(); w != base+2*minute-10_000 {
		t.Fatalf("watermark %d after a second restore, want %d", w, base+2*minute-10_000)
	}
	// Restored partitions idle out like any other.
	clk.Advance(31 * time.Second)
	r.agg = agg3
	agg3.Apply(evp(3, "fast", base+22*minute))
	if w := agg3.Watermark(); w != base+22*minute-10_000 {
		t.Fatalf("watermark %d with restored partition 0 idle, want %d", w, base+22*minute-10_000)
	}
}

// testdata/snapshot-v1.gob was written by the aggregator before per-partition
// watermarks (snapshot version 1): events u@1m, u@6m, v@7m, so [0m, 5m)
// closed into a sealed epoch, watermark 7m-10s.
func TestRestoreVersion1Snapshot(t *testing.T) {
	data, err := os.ReadFile("testdata/snapshot-v1.gob")
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	r := newRig(t, window.Options{Now: clk.Now})
	if err := r.agg.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	a := r.agg
	if w := a.Watermark(); w != base+7*minute-10_000 {
		t.Fatalf("restored watermark %d, want %d", w, base+7*minute-10_000)
	}
	if n, durable := a.Pending(); n != 1 || durable != 1 {
		t.Fatalf("pending %d epochs (%d durable), want 1 (1)", n, durable)
	}
	a.Apply(evp(0, "u", base+2*minute)) // its window closed before the snapshot: late
	a.Apply(evp(1, "u", base+8*minute)) // the open window [5m, 10m)
	// The old watermark is a floor: partition 1 alone does not lower it,
	// partition 0 (at 2m) does not either.
	if w := a.Watermark(); w != base+7*minute-10_000 {
		t.Fatalf("watermark %d, want the restored floor %d", w, base+7*minute-10_000)
	}
	a.Apply(evp(0, "v", base+11*minute))
	a.Apply(evp(1, "u", base+11*minute))
	r.checkpoint()
	if keys := fmt.Sprint(rowKeys(r.rows())); keys != "[u@5m u@10m v@10m]" {
		t.Fatalf("rows %s", keys)
	}
	if got := r.rows()[1].Values[0].Int; got != 2 {
		t.Fatalf("u's restored window [5m, 10m) counts %d events, want 2", got)
	}
	if r.late.Load() != 1 {
		t.Fatalf("late %d, want 1", r.late.Load())
	}
}

// Partitions applied concurrently, each in event-time order: with the
// watermark the minimum over partitions no event is late, however the
// goroutines interleave. (With one maximum, a partition scheduled ahead made
// the others' events late.)
func TestConcurrentPartitionsNoLateEvents(t *testing.T) {
	r := newRig(t, window.Options{Size: time.Minute, IdleTimeout: -1})
	const parts, n = 4, 3000
	for p := range parts {
		r.agg.Apply(evp(p, "seed", base))
	}
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				r.agg.Apply(evp(p, fmt.Sprintf("u%d-%d", p, i%10), base+int64(i)*(100+int64(p)*50)))
			}
		}()
	}
	wg.Wait()
	r.checkpoint()
	if r.late.Load() != 0 {
		t.Fatalf("%d late events", r.late.Load())
	}
	if len(r.rows()) == 0 {
		t.Fatal("no window closed")
	}
}

func BenchmarkApply(b *testing.B) {
	for _, parts := range []int{1, 8} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			st, err := offline.New(fileblob.New(b.TempDir()), offline.Options{})
			if err != nil {
				b.Fatal(err)
			}
			a, err := window.New(st, window.Options{NoArchive: true})
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				p := int(next.Add(1)-1) % parts
				users := make([]string, 100)
				for i := range users {
					users[i] = fmt.Sprintf("u%d-%d", p, i)
				}
				r := evp(p, "", base)
				for i := 0; pb.Next(); i++ {
					r.Event.UserID = users[i%len(users)]
					r.Event.Time = base + int64(i)*10
					a.Apply(r)
				}
			})
		})
	}
}
