package dedupe_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/recohq/reco/internal/dedupe"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/stream"
)

// memSource is a fixed in-memory log: parts[p] holds partition p's records.
type memSource struct{ parts [][][]byte }

func (s *memSource) Partitions() int       { return len(s.parts) }
func (s *memSource) EndOffset(p int) int64 { return int64(len(s.parts[p])) }
func (s *memSource) Commit(int, int64)     {}
func (s *memSource) Open(p int, from int64) (stream.Reader, error) {
	return &memReader{recs: s.parts[p], next: from}, nil
}

type memReader struct {
	recs [][]byte
	next int64
}

func (r *memReader) TryNext() (int64, []byte, bool, error) {
	if r.next >= int64(len(r.recs)) {
		return 0, nil, false, nil
	}
	r.next++
	return r.next - 1, r.recs[r.next-1], true, nil
}

func (r *memReader) Next(ctx context.Context) (int64, []byte, error) {
	if off, data, ok, _ := r.TryNext(); ok {
		return off, data, nil
	}
	<-ctx.Done()
	return 0, nil, ctx.Err()
}

func (r *memReader) Close() error { return nil }

// tally counts the events applied per event_id, as a feature would.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func newTally() *tally { return &tally{n: map[string]int{}} }

func (t *tally) Apply(r *event.Record) {
	if r.Kind != event.KindEvent {
		return
	}
	t.mu.Lock()
	t.n[r.Event.UserID+"/"+r.Event.SourceKey]++
	t.mu.Unlock()
}

func (t *tally) Snapshot(w io.Writer) error {
	return binary.Write(w, binary.LittleEndian, uint64(t.total()))
}

func (t *tally) Restore(r io.Reader) error {
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return err
	}
	t.n = map[string]int{"restored": int(n)}
	return nil
}

func (t *tally) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := 0
	for _, n := range t.n {
		s += n
	}
	return s
}

const t0 = int64(1_772_366_400_000)

// retryLog has 3 partitions; user u<p> sends 20 events on partition p, and
// each of the first 10 is retried once, 30 s later in ingest time.
func retryLog() *memSource {
	src := &memSource{}
	for p := range 3 {
		var recs [][]byte
		user := fmt.Sprint("u", p)
		for i := range 20 {
			e := event.Event{Type: event.Click, UserID: user, ProductID: "x", Price: -1, Quantity: 1,
				Time: t0, Ingested: t0 + int64(i)*1000, SourceKey: fmt.Sprint("e", i)}
			recs = append(recs, event.AppendEvent(nil, &e))
			if i < 10 {
				e.Ingested += 30_000
				recs = append(recs, event.AppendEvent(nil, &e))
			}
		}
		src.parts = append(src.parts, recs)
	}
	return src
}

// run applies src to state from dir's checkpoint until it is all applied,
// then writes a checkpoint.
func run(t *testing.T, src stream.Source, state stream.State, dir string) {
	t.Helper()
	proc := stream.New(src, state, stream.Options{Dir: dir, CheckpointInterval: time.Hour})
	if err := proc.Recover(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	ends := make([]int64, src.Partitions())
	for p := range ends {
		ends[p] = src.EndOffset(p)
	}
	if err := proc.WaitFor(ctx, ends); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func newFilter(t *testing.T) *dedupe.Filter {
	t.Helper()
	f, err := dedupe.New(dedupe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestProcessor runs the filter as the first part of a stream.Multi under
// the stream processor: every event is counted once, and a checkpoint
// written before the filter existed still restores.
func TestProcessor(t *testing.T) {
	src := retryLog()
	f, counts := newFilter(t), newTally()
	run(t, src, &stream.Multi{Names: []string{"dedupe", "tally"}, States: []stream.State{f, counts}}, t.TempDir())
	if len(counts.n) != 60 {
		t.Errorf("%d distinct events, want 60", len(counts.n))
	}
	for k, n := range counts.n {
		if n != 1 {
			t.Errorf("%s counted %d times", k, n)
		}
	}
	if st := f.Stats(); st.Duplicates != 30 || st.Keys != 60 {
		t.Errorf("stats %+v, want 30 duplicates and 60 keys", st)
	}

	// An older build checkpointed the log's first half without a filter.
	dir := t.TempDir()
	half := &memSource{}
	for _, recs := range src.parts {
		half.parts = append(half.parts, recs[:len(recs)/2])
	}
	run(t, half, &stream.Multi{Names: []string{"tally"}, States: []stream.State{newTally()}}, dir)
	// The new build restores it, its filter empty, and goes on.
	f2, counts2 := newFilter(t), newTally()
	run(t, src, &stream.Multi{Names: []string{"dedupe", "tally"}, States: []stream.State{f2, counts2}}, dir)
	if counts2.n["restored"] != 45 {
		t.Errorf("restored tally %v", counts2.n)
	}
	// Each partition's second half is e7' e8 e8' e9 e9' e10 ... e19: the
	// retry of e7, whose original the empty filter never saw, is counted
	// again; those of e8 and e9 are dropped.
	if got := counts2.total() - 45; got != 3*13 {
		t.Errorf("second half counted %d events, want 39", got)
	}
	if st := f2.Stats(); st.Duplicates != 3*2 {
		t.Errorf("stats %+v, want 6 duplicates", st)
	}
}

// Example shows the filter as the first part of the stream state: a
// retried event reaches no later part.
func Example() {
	f, err := dedupe.New(dedupe.Options{Window: 10 * time.Minute})
	if err != nil {
		panic(err)
	}
	counts := newTally()
	state := &stream.Multi{Names: []string{"dedupe", "tally"}, States: []stream.State{f, counts}}
	for _, ingested := range []int64{0, 20_000, 11 * 60_000} { // sent, retried 20 s later, again 11 min later
		r := &event.Record{Kind: event.KindEvent, Event: event.Event{
			Type: event.Purchase, UserID: "u1", ProductID: "p1", SourceKey: "order-7", Ingested: t0 + ingested}}
		state.Apply(r)
	}
	fmt.Println(counts.n["u1/order-7"], f.Stats().Duplicates)
	// Output: 2 1
}
