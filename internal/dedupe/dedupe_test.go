package dedupe

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
)

const minute = int64(time.Minute / time.Millisecond)

// t0 is an ingest time far from zero, as real ones are.
const t0 = int64(1_772_366_400_000)

func rec(part int, user, key string, at int64) *event.Record {
	return &event.Record{Kind: event.KindEvent, Partition: part, Event: event.Event{
		Type: event.View, UserID: user, ProductID: "p1", SourceKey: key, Ingested: at, Time: at}}
}

func mustNew(t testing.TB, o Options) *Filter {
	t.Helper()
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// step is one record fed to a filter and whether it must be dropped.
type step struct {
	part      int
	user, key string
	at        int64 // minutes after t0, plus ms
	drop      bool
}

func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"retry within the window is dropped", []step{
			{0, "u1", "e1", 0, false}, {0, "u1", "e1", 1, true}, {0, "u1", "e1", 9 * minute, true}}},
		{"retry at exactly the window is dropped", []step{
			{0, "u1", "e1", 0, false}, {0, "u1", "e1", 10 * minute, true}}},
		{"retry after the window is kept", []step{
			{0, "u1", "e1", 0, false}, {0, "u1", "e1", 10*minute + 1, false}, {0, "u1", "e1", 11 * minute, true}}},
		{"retries refresh the key", []step{
			{0, "u1", "e1", 0, false}, {0, "u1", "e1", 8 * minute, true}, {0, "u1", "e1", 16 * minute, true},
			{0, "u1", "e1", 24 * minute, true}, {0, "u1", "e1", 35 * minute, false}}},
		{"another key is kept", []step{
			{0, "u1", "e1", 0, false}, {0, "u1", "e2", 0, false}, {0, "u1", "e1", 1, true}, {0, "u1", "e2", 2, true}}},
		{"the same key from another user is kept", []step{
			{0, "u1", "e1", 0, false}, {0, "u2", "e1", 0, false}, {0, "u2", "e1", 5, true}}},
		{"no key is never dropped", []step{
			{0, "u1", "", 0, false}, {0, "u1", "", 0, false}}},
		{"user and key do not run together", []step{
			{0, "u1", "1e", 0, false}, {0, "u11", "e", 0, false}, {0, "u", "11e", 0, false}}},
		{"each partition has its own memory", []step{
			{0, "u1", "e1", 0, false}, {1, "u1", "e1", 0, false}, {1, "u1", "e1", 1, true}}},
		{"an ingest time going back a little still matches", []step{
			{0, "u1", "e1", 5 * minute, false}, {0, "u1", "e1", 0, true}}},
		{"eviction by other keys does not forget a key early", []step{
			{0, "u1", "e1", 0, false}, {0, "u2", "x", 3 * minute, false}, {0, "u2", "y", 7 * minute, false},
			{0, "u2", "z", 9*minute + 59_999, false}, {0, "u1", "e1", 10 * minute, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustNew(t, Options{})
			for i, s := range tt.steps {
				r := rec(s.part, s.user, s.key, t0+s.at)
				f.Apply(r)
				if dropped := r.Kind == 0; dropped != s.drop {
					t.Errorf("step %d %+v: dropped %v", i, s, dropped)
				}
			}
		})
	}
}

func TestOtherKindsPass(t *testing.T) {
	f := mustNew(t, Options{})
	// A reused record may carry an old event beside a product: the kind rules.
	for range 3 {
		r := rec(0, "u1", "e1", t0)
		r.Kind = event.KindProduct
		f.Apply(r)
		if r.Kind != event.KindProduct {
			t.Fatalf("product record changed to kind %d", r.Kind)
		}
	}
	if st := f.Stats(); st.Keys != 0 {
		t.Errorf("a product record left %d keys", st.Keys)
	}
	r := &event.Record{Kind: 0, Event: event.Event{UserID: "u1", SourceKey: "e1"}}
	f.Apply(r)
	f.Apply(r)
	if st := f.Stats(); st.Keys != 0 || st.Duplicates != 0 {
		t.Errorf("a kind 0 record counted: %+v", st)
	}
}

func TestSkip(t *testing.T) {
	f := mustNew(t, Options{Skip: func(k string) bool { return k[0] == 'i' }})
	for i, want := range []bool{false, false, false, true} {
		key := "import:1"
		if i >= 2 {
			key = "e1"
		}
		r := rec(0, "u1", key, t0)
		f.Apply(r)
		if (r.Kind == 0) != want {
			t.Errorf("record %d (%s): dropped %v", i, key, r.Kind == 0)
		}
	}
	if st := f.Stats(); st.Keys != 1 {
		t.Errorf("%d keys held, want 1", st.Keys)
	}
}

func TestStatsAndHook(t *testing.T) {
	var hooked atomic.Int64
	f := mustNew(t, Options{Hooks: Hooks{OnDuplicate: func(n int) { hooked.Add(int64(n)) }}})
	for _, key := range []string{"a", "b", "a", "a", "c", "b"} {
		f.Apply(rec(0, "u1", key, t0))
	}
	want := Stats{Keys: 3, Duplicates: 3}
	if st := f.Stats(); st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	if hooked.Load() != 3 {
		t.Errorf("OnDuplicate reported %d, want 3", hooked.Load())
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{Window: -time.Second}, {MaxKeys: -1}, {Window: time.Millisecond}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	_, err := New(Options{Window: -1, MaxKeys: -1})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("Window")) || !bytes.Contains([]byte(err.Error()), []byte("MaxKeys")) {
		t.Errorf("every problem not reported: %v", err)
	}
	got := mustNew(t, Options{}).Options()
	if got.Window != DefaultWindow || got.MaxKeys != DefaultMaxKeys {
		t.Errorf("defaults %+v", got)
	}
}

// TestEvictionBounded feeds a steady stream of fresh keys and checks that
// the memory holds about a window of them, never more than a window and a
// bucket.
func TestEvictionBounded(t *testing.T) {
	const perSec = 50
	f := mustNew(t, Options{Window: time.Minute})
	maxHeld := int64(0)
	for i := range 20 * 60 * perSec { // 20 minutes of ingest time
		at := t0 + int64(i)*1000/perSec
		f.Apply(rec(0, fmt.Sprint("u", i%97), fmt.Sprint("e", i), at))
		held := f.Stats().Keys
		maxHeld = max(maxHeld, held)
		if limit := int64((60 + 15 + 1) * perSec); held > limit {
			t.Fatalf("after %d events: %d keys held, more than %d", i, held, limit)
		}
	}
	if min := int64(60 * perSec); maxHeld < min {
		t.Errorf("at most %d keys held, want at least a window (%d)", maxHeld, min)
	}
	p := (*f.parts.Load())[0]
	if len(p.buckets) > 6 || p.entries != len(p.seen) {
		t.Errorf("%d buckets, %d entries for %d keys", len(p.buckets), p.entries, len(p.seen))
	}
	if st := f.Stats(); st.Forgotten != 0 || st.Keys != int64(len(p.seen)) {
		t.Errorf("stats %+v with %d keys in the map", st, len(p.seen))
	}
}

// TestMaxKeys checks the cap: beyond it the oldest keys are forgotten early
// and a retry of one of them slips through.
func TestMaxKeys(t *testing.T) {
	f := mustNew(t, Options{MaxKeys: 100})
	for i := range 1000 {
		f.Apply(rec(0, "u1", fmt.Sprint("e", i), t0+int64(i)))
		if st := f.Stats(); st.Keys > 100 {
			t.Fatalf("after %d keys: %d held", i+1, st.Keys)
		}
	}
	st := f.Stats()
	if st.Keys < 75 || st.Forgotten != 1000-st.Keys {
		t.Errorf("stats %+v", st)
	}
	late := rec(0, "u1", "e0", t0+1000)
	f.Apply(late)
	recent := rec(0, "u1", "e999", t0+1000)
	f.Apply(recent)
	if late.Kind == 0 || recent.Kind != 0 {
		t.Errorf("retry of a forgotten key dropped %v, of a recent one %v", late.Kind == 0, recent.Kind == 0)
	}
	// Refreshing the same few keys over and over must not grow the lists.
	g := mustNew(t, Options{MaxKeys: 8})
	for i := range 10000 {
		g.Apply(rec(0, "u1", fmt.Sprint("e", i%3), t0+int64(i)))
	}
	p := (*g.parts.Load())[0]
	if p.entries > 2*8+2 || len(p.seen) != 3 {
		t.Errorf("%d list entries, %d keys", p.entries, len(p.seen))
	}
}

// randomLog is a log of nparts partitions: some events without a key,
// retries after a short or a long delay, and a few with ingest times going
// back.
func randomLog(seed uint64, nparts, n int) [][]*event.Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]*event.Record, nparts)
	now := make([]int64, nparts)
	type sent struct {
		user, key string
	}
	recent := make([][]sent, nparts)
	for i := range n {
		p := rng.IntN(nparts)
		now[p] += rng.Int64N(400) // ~ 5 events a second per partition
		if rng.IntN(200) == 0 {
			now[p] += rng.Int64N(6 * minute) // a quiet spell
		}
		at := t0 + now[p]
		if rng.IntN(100) == 0 {
			at -= rng.Int64N(2 * minute) // the clock went back
		}
		var user, key string
		switch x := rng.IntN(10); {
		case x < 3: // no key
			user = fmt.Sprint("u", p, "-", rng.IntN(50))
		case x < 5 && len(recent[p]) > 0: // a retry
			s := recent[p][rng.IntN(len(recent[p]))]
			user, key = s.user, s.key
		default:
			user, key = fmt.Sprint("u", p, "-", rng.IntN(50)), fmt.Sprint("e", i)
			recent[p] = append(recent[p], sent{user, key})
			if len(recent[p]) > 300 {
				recent[p] = recent[p][1:]
			}
		}
		out[p] = append(out[p], rec(p, user, key, at))
	}
	return out
}

func clone(r *event.Record) *event.Record { c := *r; return &c }

// decisions applies the log partition by partition, in the order given by
// order (a list of partitions), and returns per partition which records
// were dropped.
func decisions(f *Filter, log [][]*event.Record, order []int) [][]bool {
	out := make([][]bool, len(log))
	next := make([]int, len(log))
	for _, p := range order {
		r := clone(log[p][next[p]])
		next[p]++
		f.Apply(r)
		out[p] = append(out[p], r.Kind == 0)
	}
	return out
}

// interleave returns an order applying every record of log, partitions
// interleaved at random.
func interleave(seed uint64, log [][]*event.Record) []int {
	var order []int
	for p, recs := range log {
		for range recs {
			order = append(order, p)
		}
	}
	rand.New(rand.NewPCG(seed, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

func snapshot(t testing.TB, f *Filter) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDeterministic checks that the decisions depend on the records of each
// partition only: not on how partitions interleave, not on a checkpoint
// taken and restored midway, and that equal histories snapshot to equal
// bytes.
func TestDeterministic(t *testing.T) {
	for _, o := range []Options{{}, {Window: time.Minute, MaxKeys: 64}} {
		t.Run(fmt.Sprintf("window %v max %d", o.Window, o.MaxKeys), func(t *testing.T) {
			log := randomLog(7, 4, 40000)
			a := mustNew(t, o)
			want := decisions(a, log, interleave(1, log))
			dropped := 0
			for _, d := range want {
				for _, x := range d {
					if x {
						dropped++
					}
				}
			}
			if dropped == 0 || a.Stats().Duplicates != int64(dropped) {
				t.Fatalf("%d dropped, stats %+v", dropped, a.Stats())
			}
			if o.MaxKeys > 0 && a.Stats().Forgotten == 0 {
				t.Fatal("the cap never applied")
			}
			t.Logf("%d of 40000 dropped, %+v", dropped, a.Stats())

			// Another interleaving.
			b := mustNew(t, o)
			if got := decisions(b, log, interleave(2, log)); !slices.EqualFunc(got, want, slices.Equal) {
				t.Error("decisions depend on the interleaving of partitions")
			}
			if !bytes.Equal(snapshot(t, a), snapshot(t, b)) {
				t.Error("snapshots differ")
			}

			// Half, checkpoint, restore into a new filter, the rest.
			order := interleave(3, log)
			c := mustNew(t, o)
			first := decisions(c, log, order[:len(order)/2])
			d := mustNew(t, o)
			if err := d.Restore(bytes.NewReader(snapshot(t, c))); err != nil {
				t.Fatal(err)
			}
			if d.Stats().Keys != c.Stats().Keys {
				t.Errorf("restored %d keys of %d", d.Stats().Keys, c.Stats().Keys)
			}
			// Replay the rest of each partition from where the first half stopped.
			rest := make([][]*event.Record, len(log))
			for p := range log {
				rest[p] = log[p][len(first[p]):]
			}
			second := decisions(d, rest, order[len(order)/2:])
			for p := range want {
				if got := append(first[p], second[p]...); !slices.Equal(got, want[p]) {
					t.Errorf("partition %d: a restored filter decided otherwise than a clean run", p)
				}
			}
			if !bytes.Equal(snapshot(t, a), snapshot(t, d)) {
				t.Error("restored-then-replayed snapshot differs from a clean run's")
			}
		})
	}
}

// TestConcurrentApply applies partitions from their own goroutines, as the
// stream processor does, and compares with a sequential run (go test -race).
func TestConcurrentApply(t *testing.T) {
	o := Options{Window: time.Minute, MaxKeys: 200}
	log := randomLog(11, 8, 40000)
	want := decisions(mustNew(t, o), log, interleave(1, log))

	f := mustNew(t, o)
	got := make([][]bool, len(log))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // a metrics scrape
		for {
			select {
			case <-stop:
				return
			default:
				_ = f.Stats()
			}
		}
	}()
	for p := range log {
		wg.Go(func() {
			for _, r := range log[p] {
				r = clone(r)
				f.Apply(r)
				got[p] = append(got[p], r.Kind == 0)
			}
		})
	}
	wg.Wait()
	close(stop)
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Error("concurrent decisions differ from sequential ones")
	}
}

func TestRestoreRejectsCorrupt(t *testing.T) {
	f := mustNew(t, Options{})
	for i := range 50 {
		f.Apply(rec(i%3, "u1", fmt.Sprint("e", i), t0+int64(i)*minute))
		f.Apply(rec(i%3, "u1", fmt.Sprint("e", i/2), t0+int64(i)*minute))
	}
	good := snapshot(t, f)
	g := mustNew(t, Options{})
	g.Apply(rec(0, "u9", "kept", t0))
	before := snapshot(t, g)
	for n := range len(good) {
		if err := g.Restore(bytes.NewReader(good[:n])); err == nil {
			t.Fatalf("restored %d of %d bytes", n, len(good))
		}
	}
	bad := append([]byte{9}, good[1:]...)
	if err := g.Restore(bytes.NewReader(bad)); err == nil {
		t.Error("restored an unknown version")
	}
	if err := g.Restore(bytes.NewReader(append(slices.Clone(good), 0))); err == nil {
		t.Error("restored a snapshot with trailing bytes")
	}
	if !bytes.Equal(snapshot(t, g), before) {
		t.Error("a failed restore changed the filter")
	}
	if err := g.Restore(bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshot(t, g), good) {
		t.Error("round trip changed the snapshot")
	}
	// An empty filter round-trips too.
	if err := g.Restore(bytes.NewReader(snapshot(t, mustNew(t, Options{})))); err != nil || g.Stats().Keys != 0 {
		t.Errorf("empty round trip: %v, %+v", err, g.Stats())
	}
}

func TestEmptyKeyDoesNotAllocate(t *testing.T) {
	f := mustNew(t, Options{})
	r := rec(0, "u1", "", t0)
	if n := testing.AllocsPerRun(1000, func() { f.Apply(r) }); n != 0 {
		t.Errorf("%v allocations per event without a key", n)
	}
}

func BenchmarkApply(b *testing.B) {
	b.Run("no key", func(b *testing.B) {
		f := mustNew(b, Options{})
		r := rec(0, "u1", "", t0)
		for b.Loop() {
			f.Apply(r)
		}
	})
	b.Run("fresh keys", func(b *testing.B) {
		f := mustNew(b, Options{Window: time.Minute})
		keys := make([]string, 1<<16)
		for i := range keys {
			keys[i] = fmt.Sprintf("%016x-%d", i*7919, i)
		}
		var r event.Record
		i := 0
		for b.Loop() {
			r = event.Record{Kind: event.KindEvent, Event: event.Event{UserID: "user-123456", SourceKey: keys[i&(1<<16-1)], Ingested: t0 + int64(i)}}
			f.Apply(&r)
			i++
		}
		b.ReportMetric(float64(f.Stats().Keys), "keys")
	})
}
