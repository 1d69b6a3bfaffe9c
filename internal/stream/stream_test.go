package stream

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
)

// memSource is a fixed in-memory log: parts[p] holds partition p's records.
type memSource struct{ parts [][][]byte }

func (s *memSource) Partitions() int       { return len(s.parts) }
func (s *memSource) EndOffset(p int) int64 { return int64(len(s.parts[p])) }
func (s *memSource) Commit(int, int64)     {}
func (s *memSource) Open(p int, from int64) (Reader, error) {
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

// partitions records, per user, the partition of each record applied.
type partitions struct {
	mu  sync.Mutex
	got map[string][]int
}

func (s *partitions) Apply(r *event.Record) {
	s.mu.Lock()
	s.got[r.Event.UserID] = append(s.got[r.Event.UserID], r.Partition)
	s.mu.Unlock()
}
func (s *partitions) Snapshot(io.Writer) error { return nil }
func (s *partitions) Restore(io.Reader) error  { return nil }

func TestRecordPartition(t *testing.T) {
	// Partition p holds two events of user "u<p>".
	src := &memSource{}
	for p := range 3 {
		var recs [][]byte
		for i := range 2 {
			e := event.Event{Type: event.Click, UserID: "u" + string(rune('0'+p)), ProductID: "x", Price: -1, Quantity: 1, Time: int64(i)}
			recs = append(recs, event.AppendEvent(nil, &e))
		}
		src.parts = append(src.parts, recs)
	}
	for _, tc := range []struct {
		name string
		ids  []int
		want []int // the Partition seen for partition p
	}{
		{"identity", nil, []int{0, 1, 2}},
		{"subset", []int{7, 3, 12}, []int{7, 3, 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &partitions{got: map[string][]int{}}
			p := New(src, st, Options{Dir: t.TempDir(), CheckpointInterval: time.Hour, PartitionIDs: tc.ids})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			if err := p.WaitFor(ctx, []int64{2, 2, 2}); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for part, id := range tc.want {
				user := "u" + string(rune('0'+part))
				if got := st.got[user]; !slices.Equal(got, []int{id, id}) {
					t.Errorf("partition %d: records carry Partition %v, want %d", part, got, id)
				}
			}
		})
	}
	st := &partitions{got: map[string][]int{}}
	p := New(src, st, Options{Dir: t.TempDir(), PartitionIDs: []int{1}})
	if err := p.Run(context.Background()); err == nil {
		t.Error("Run accepted 1 partition ID for 3 partitions")
	}
}
