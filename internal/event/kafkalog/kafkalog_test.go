package kafkalog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/stream"
)

const testParts = 8

func newCluster(t testing.TB, parts int32) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, DefaultTopic),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func openLog(t testing.TB, c *kfake.Cluster, mod func(*Options)) *Log {
	t.Helper()
	o := Options{Brokers: c.ListenAddrs(), ProduceTimeout: 5 * time.Second, AdminTimeout: 3 * time.Second, SessionTimeout: 1500 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func testEvent(i int) event.Event {
	return event.Event{Type: event.View, UserID: fmt.Sprintf("u%d", i), ProductID: fmt.Sprintf("p%d", i%50),
		SessionID: "s", Price: -1, Quantity: 1, Time: 1_700_000_000_000 + int64(i), Ingested: 1_700_000_000_000}
}

// appendEvents appends n events, event i to partition i % parts, and
// returns the encodings per partition in offset order.
func appendEvents(t testing.TB, l *Log, first, n int) map[int][][]byte {
	t.Helper()
	recs := make([]Record, n)
	want := make(map[int][][]byte)
	for i := range recs {
		e := testEvent(first + i)
		data := event.AppendEvent(nil, &e)
		p := (first + i) % l.Partitions()
		recs[i] = Record{Partition: p, Key: []byte(e.UserID), Data: data}
		want[p] = append(want[p], data)
	}
	offs, err := l.Append(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(offs) != n {
		t.Fatalf("Append returned %d offsets for %d records", len(offs), n)
	}
	return want
}

func readN(t testing.TB, r stream.Reader, n int) (offs []int64, datas [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(offs) < n {
		off, data, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d records: %v", len(offs), err)
		}
		offs = append(offs, off)
		datas = append(datas, bytes.Clone(data))
		for len(offs) < n {
			off, data, ok, err := r.TryNext()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			offs = append(offs, off)
			datas = append(datas, bytes.Clone(data))
		}
	}
	return offs, datas
}

func TestRoundTrip(t *testing.T) {
	c := newCluster(t, testParts)
	l := openLog(t, c, nil)
	if l.Partitions() != testParts {
		t.Fatalf("Partitions = %d", l.Partitions())
	}
	want := appendEvents(t, l, 0, 200)
	want2 := appendEvents(t, l, 200, 200) // offsets continue
	src := l.Source()
	for p := 0; p < testParts; p++ {
		all := append(want[p], want2[p]...)
		if got := src.EndOffset(p); got != int64(len(all)) {
			t.Errorf("EndOffset(%d) = %d, want %d", p, got, len(all))
		}
		r, err := src.Open(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		offs, datas := readN(t, r, len(all))
		for i := range offs {
			if offs[i] != int64(i) {
				t.Fatalf("partition %d: record %d has offset %d", p, i, offs[i])
			}
			if !bytes.Equal(datas[i], all[i]) {
				t.Fatalf("partition %d offset %d: data differs", p, i)
			}
		}
		r.Close()
	}
	// The Append offsets are the ones the reader sees.
	offs, err := l.Append(context.Background(), []Record{{Partition: 3, Key: []byte("u"), Data: want[3][0]}, {Partition: 3, Data: want[3][1]}})
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(len(want[3]) + len(want2[3])); offs[0] != n || offs[1] != n+1 {
		t.Fatalf("Append offsets %v, want %d, %d", offs, n, n+1)
	}
}

func TestAppendInvalidPartition(t *testing.T) {
	l := openLog(t, newCluster(t, testParts), nil)
	_, err := l.Append(context.Background(), []Record{{Partition: testParts, Data: []byte{1}}})
	if reco.KindOf(err) != reco.Invalid {
		t.Fatalf("err = %v, want kind invalid", err)
	}
}

func TestAppendUnavailable(t *testing.T) {
	c := newCluster(t, testParts)
	l := openLog(t, c, func(o *Options) { o.ProduceTimeout = time.Second })
	appendEvents(t, l, 0, 10)
	addrs := c.ListenAddrs() // a closed kfake cluster blocks ListenAddrs
	c.Close()
	start := time.Now()
	e := testEvent(1)
	offs, err := l.Append(context.Background(), []Record{{Partition: 1, Data: event.AppendEvent(nil, &e)}})
	if err == nil || offs != nil {
		t.Fatalf("Append on a closed cluster: offsets %v, err %v", offs, err)
	}
	if reco.KindOf(err) != reco.Unavailable {
		t.Fatalf("kind = %v (%v), want unavailable", reco.KindOf(err), err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Append took %v with ProduceTimeout 1s", took)
	}
	t.Logf("closed cluster: %v after %v", err, time.Since(start).Round(time.Millisecond))

	// Open against nothing is unavailable too.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = Open(ctx, Options{Brokers: addrs, AdminTimeout: 500 * time.Millisecond})
	if reco.KindOf(err) != reco.Unavailable {
		t.Fatalf("Open: kind = %v (%v), want unavailable", reco.KindOf(err), err)
	}
}

// produceRaw writes values as another producer would: JSON, no header.
func produceRaw(t testing.TB, c *kfake.Cluster, part int32, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range values {
		r := &kgo.Record{Topic: DefaultTopic, Partition: part, Key: []byte("k"), Value: []byte(v)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestForeignJSON(t *testing.T) {
	c := newCluster(t, testParts)
	var bad []int64
	var mu sync.Mutex
	l := openLog(t, c, func(o *Options) {
		o.Hooks.OnBadRecord = func(p int32, off int64, err error) {
			mu.Lock()
			bad = append(bad, off)
			mu.Unlock()
		}
	})
	produceRaw(t, c, 2,
		`{"user_id":"u1","event_type":"purchase","product_id":42,"price":9.5,"quantity":2,"timestamp":"2024-05-01T10:00:00Z","event_id":"e-1"}`,
		`{"user_id":"u2","event_type":"teleport","product_id":"p"}`,
		`not json`,
		`[{"user_id":"a","event_type":"view","product_id":"x"},{"user_id":"b","event_type":"view","product_id":"y"}]`,
		`{"user_id":"u3","event_type":"view","product_id":"p3"}`,
	)
	r, err := l.NewReader(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	offs, datas := readN(t, r, 5)
	if !slices.Equal(offs, []int64{0, 1, 2, 3, 4}) {
		t.Fatalf("offsets %v", offs)
	}
	var rec event.Record
	if err := event.Decode(datas[0], &rec); err != nil {
		t.Fatal(err)
	}
	ev := rec.Event
	if rec.Kind != event.KindEvent || ev.UserID != "u1" || ev.Type != event.Purchase || ev.ProductID != "42" ||
		ev.Price != 9.5 || ev.Quantity != 2 || ev.Time != time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).UnixMilli() || ev.Ingested == 0 ||
		ev.SourceKey != "e-1" {
		t.Fatalf("transcoded event %+v", ev)
	}
	for _, i := range []int{1, 2, 3} {
		if DecodeError(datas[i]) == nil {
			t.Fatalf("record %d not marked bad: %q", i, datas[i])
		}
		if err := event.Decode(datas[i], &rec); err == nil {
			t.Fatalf("event.Decode accepted bad record %d", i)
		}
		t.Logf("bad record %d: %v", i, DecodeError(datas[i]))
	}
	if err := event.Decode(datas[4], &rec); err != nil || rec.Event.UserID != "u3" || rec.Event.Time == 0 {
		t.Fatalf("record 4: %v %+v", err, rec.Event)
	}
	if DecodeError(datas[4]) != nil {
		t.Fatal("good record marked bad")
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(bad, []int64{1, 2, 3}) {
		t.Fatalf("OnBadRecord offsets %v", bad)
	}
}

func TestOpenMidPartition(t *testing.T) {
	c := newCluster(t, testParts)
	l := openLog(t, c, nil)
	want := appendEvents(t, l, 0, 80) // 10 per partition
	r, err := l.NewReader(5, 7)
	if err != nil {
		t.Fatal(err)
	}
	offs, datas := readN(t, r, 3)
	r.Close()
	if !slices.Equal(offs, []int64{7, 8, 9}) || !bytes.Equal(datas[0], want[5][7]) {
		t.Fatalf("offsets %v", offs)
	}
	// At the end: waits for the next record.
	r, err = l.NewReader(5, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, ok, err := r.TryNext(); ok || err != nil {
		t.Fatalf("TryNext at the end: ok %v err %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	if _, _, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next at the end: %v", err)
	}
	cancel()
	appendEvents(t, l, 80, 8)
	if offs, _ := readN(t, r, 1); offs[0] != 10 {
		t.Fatalf("next offset %d", offs[0])
	}
	for _, from := range []int64{-1, 12} {
		if _, err := l.NewReader(5, from); reco.KindOf(err) != reco.Invalid || !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("NewReader(5, %d): %v", from, err)
		}
	}
}

func TestCommitThenNewLog(t *testing.T) {
	c := newCluster(t, testParts)
	l := openLog(t, c, nil)
	appendEvents(t, l, 0, 80)
	src := l.Source()
	src.Commit(0, 4)
	src.Commit(3, 10)
	if err := l.CommitOffsets(context.Background(), map[int32]int64{7: 2}); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, c, nil)
	got, err := l2.Committed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 4 || got[3] != 10 || got[7] != 2 {
		t.Fatalf("Committed = %v", got)
	}
	lag, err := l2.CommittedLag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if lag[0] != 6 || lag[3] != 0 || lag[7] != 8 || lag[1] != 10 {
		t.Fatalf("CommittedLag = %v", lag)
	}
}

func TestLag(t *testing.T) {
	c := newCluster(t, testParts)
	l := openLog(t, c, nil)
	appendEvents(t, l, 0, 800) // 100 per partition
	r, err := l.NewReader(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if lag := l.Lag(); lag[1] != 100 || len(lag) != 1 {
		t.Fatalf("Lag before reading = %v", lag)
	}
	readN(t, r, 40)
	if lag := l.Lag(); lag[1] != 60 {
		t.Fatalf("Lag after 40 = %v", lag)
	}
	appendEvents(t, l, 800, 80) // 10 more
	readN(t, r, 60)
	// The high watermark comes from the fetches: read until it shows all.
	deadline := time.Now().Add(5 * time.Second)
	for l.Lag()[1] != 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	readN(t, r, 10)
	if lag := l.Lag(); lag[1] != 0 {
		t.Fatalf("Lag at the end = %v", lag)
	}
	r.Close()
	if lag := l.Lag(); len(lag) != 0 {
		t.Fatalf("Lag without readers = %v", lag)
	}
}

// countState counts applied events per user; enough to see double counting.
type countState struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *countState) Apply(r *event.Record) {
	s.mu.Lock()
	s.n[r.Event.UserID]++
	s.mu.Unlock()
}

func (s *countState) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := 0
	for _, n := range s.n {
		t += n
	}
	return t
}

func (s *countState) Snapshot(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := binary.AppendUvarint(nil, uint64(len(s.n)))
	for k, v := range s.n {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(v))
	}
	_, err := w.Write(b)
	return err
}

func (s *countState) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	n, k := binary.Uvarint(b)
	b = b[k:]
	s.n = make(map[string]int)
	for range n {
		l, k := binary.Uvarint(b)
		b = b[k:]
		key := string(b[:l])
		b = b[l:]
		v, k := binary.Uvarint(b)
		b = b[k:]
		s.n[key] = int(v)
	}
	return nil
}

// TestProcessorOnKafka runs the stream processor unchanged over Source: a
// run, a restart from the checkpoint, records added in between, and JSON
// records (one bad) from another producer. Every event counts once.
func TestProcessorOnKafka(t *testing.T) {
	c := newCluster(t, testParts)
	l := openLog(t, c, nil)
	dir := t.TempDir()
	var bad atomic.Int64
	run := func(wantTotal int) *countState {
		st := &countState{n: make(map[string]int)}
		p := stream.New(l.Source(), st, stream.Options{Dir: dir, CheckpointInterval: time.Hour,
			Hooks: stream.Hooks{OnBadRecord: func(int, int64, error) { bad.Add(1) }}})
		if err := p.Recover(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for st.total() < wantTotal && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		ends := make([]int64, testParts)
		for i := range ends {
			ends[i] = l.EndOffset(i)
		}
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.WaitFor(wctx, ends); err != nil {
			t.Fatalf("WaitFor %v: %v (at %v)", ends, err, p.Offsets())
		}
		wcancel()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return st
	}
	appendEvents(t, l, 0, 400)
	if st := run(400); st.total() != 400 {
		t.Fatalf("first run: %d events", st.total())
	}
	com, err := l.Committed(context.Background())
	if err != nil || len(com) != testParts || com[0] != 50 {
		t.Fatalf("committed after the final checkpoint: %v %v", com, err)
	}
	appendEvents(t, l, 400, 400)
	produceRaw(t, c, 6, `{"user_id":"json-user","event_type":"view","product_id":"p1"}`, `{bad`)
	st := run(801)
	if st.total() != 801 {
		t.Fatalf("second run: %d events, want 801 (400 restored + 400 + 1 JSON)", st.total())
	}
	if st.n["json-user"] != 1 || st.n["u5"] != 1 || st.n["u405"] != 1 {
		t.Fatalf("counts: json-user %d, u5 %d, u405 %d", st.n["json-user"], st.n["u5"], st.n["u405"])
	}
	if bad.Load() != 1 {
		t.Fatalf("bad records counted %d, want 1", bad.Load())
	}
}

func waitOwned(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGroupRebalance(t *testing.T) {
	c := newCluster(t, testParts)
	l1 := openLog(t, c, nil)
	l2 := openLog(t, c, nil)
	appendEvents(t, l1, 0, 80)

	type event struct {
		who, what string
		parts     []int32
	}
	var mu sync.Mutex
	var log []event
	note := func(who, what string, parts []int32) {
		mu.Lock()
		log = append(log, event{who, what, parts})
		mu.Unlock()
	}
	// Member 1 commits what it "processed" when it loses partitions.
	var revokeCommitErr atomic.Value
	g1 := GroupOptions{
		OnAssigned: func(_ context.Context, parts []int32) { note("m1", "assigned", parts) },
		OnRevoked: func(ctx context.Context, parts []int32) {
			note("m1", "revoked", parts)
			offs := make(map[int32]int64)
			for _, p := range parts {
				offs[p] = 10
			}
			if err := l1.CommitOffsets(ctx, offs); err != nil {
				revokeCommitErr.Store(err)
			}
		},
	}
	m1, err := l1.Join(context.Background(), g1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l1.Join(context.Background(), g1); reco.KindOf(err) != reco.Conflict {
		t.Fatalf("second Join: %v", err)
	}
	waitOwned(t, func() bool { return len(m1.Owned()) == testParts }, "m1 to own all partitions")
	from, err := m1.ResumeOffsets(context.Background(), m1.Owned())
	if err != nil || len(from) != testParts || from[0] != 0 {
		t.Fatalf("ResumeOffsets = %v, %v", from, err)
	}

	m2, err := l2.Join(context.Background(), GroupOptions{
		OnAssigned: func(_ context.Context, parts []int32) { note("m2", "assigned", parts) },
		OnRevoked:  func(_ context.Context, parts []int32) { note("m2", "revoked", parts) },
	})
	if err != nil {
		t.Fatal(err)
	}
	waitOwned(t, func() bool {
		o1, o2 := m1.Owned(), m2.Owned()
		return len(o1) == testParts/2 && len(o2) == testParts/2
	}, "an even split")
	o1, o2 := m1.Owned(), m2.Owned()
	if all := slices.Sorted(slices.Values(append(o1, o2...))); !slices.Equal(all, []int32{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("split %v + %v", o1, o2)
	}
	t.Logf("split: m1 %v, m2 %v", o1, o2)
	if v := revokeCommitErr.Load(); v != nil {
		t.Fatalf("commit in OnRevoked: %v", v)
	}
	// What m1 committed while giving partitions up is where m2 resumes.
	from, err = m2.ResumeOffsets(context.Background(), o2)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range o2 {
		if from[p] != 10 {
			t.Fatalf("m2 resumes partition %d at %d, want 10 (m1's commit)", p, from[p])
		}
	}
	// Fencing: m1 may not commit a partition m2 owns; m2 may.
	if err := l1.CommitOffsets(context.Background(), map[int32]int64{o2[0]: 3}); reco.KindOf(err) != reco.Conflict {
		t.Fatalf("m1 committing m2's partition: %v", err)
	}
	if err := l2.CommitOffsets(context.Background(), map[int32]int64{o2[0]: 10}); err != nil {
		t.Fatalf("m2 committing its partition: %v", err)
	}
	select {
	case got := <-m2.Assignments():
		if !slices.Equal(got, o2) {
			t.Fatalf("Assignments() = %v, Owned() = %v", got, o2)
		}
	default:
		t.Fatal("no assignment on the channel")
	}

	// m2 leaves: m1 gets everything back.
	m2.Close()
	waitOwned(t, func() bool { return len(m1.Owned()) == testParts }, "m1 to own all partitions again")
	mu.Lock()
	defer mu.Unlock()
	for _, e := range log {
		t.Logf("%s %s %v", e.who, e.what, e.parts)
	}
}
