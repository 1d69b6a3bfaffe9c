package featureview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
	"github.com/recohq/reco/internal/wire"
)

// recordSink is a Sink over an offline store that records each write and
// can be made to fail.
type recordSink struct {
	store  *offline.Store
	mu     sync.Mutex
	writes []string // "view/batch:rows"
	fail   error
}

func (s *recordSink) WriteRows(ctx context.Context, view, batch string, rows []offline.Row) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.writes = append(s.writes, fmt.Sprintf("%s/%s:%d", view, batch, len(rows)))
	return s.store.WriteRows(ctx, view, batch, rows)
}

func (s *recordSink) written() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.writes...)
	s.writes = nil
	return out
}

// recentClicks is the README's declared view plus a text and a timestamp
// feature.
var recentClicks = View{Name: "user_recent_clicks", Entity: "user", TTL: Duration(time.Hour), Features: []Feature{
	{Name: "clicks_1h", Agg: "window_count", Events: []string{"click"}, Window: Duration(time.Hour), Buckets: 12},
	{Name: "spend", Type: "float64", Agg: "sum", Field: "revenue", Events: []string{"purchase"}, Default: 0.0},
	{Name: "last_category", Agg: "last", Field: "category", Events: []string{"purchase"}},
	{Name: "last_seen", Agg: "max", Field: "time"},
}}

// historyEngine returns an engine with the default views and recentClicks
// writing to a fresh offline store in dir.
func historyEngine(t *testing.T, dir string) (*Engine, *recordSink) {
	t.Helper()
	views, od := Defaults()
	views = append(views, recentClicks)
	ov, err := OfflineViews(views)
	if err != nil {
		t.Fatal(err)
	}
	base, err := offline.New(fileblob.New(dir), offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := base.WithViews(ov...)
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{store: st}
	e, err := New(views, od, Options{Offline: sink})
	if err != nil {
		t.Fatal(err)
	}
	return e, sink
}

func rowsOf(t *testing.T, st *offline.Store, view string) []offline.Row {
	t.Helper()
	tb, err := st.ReadRows(context.Background(), view, 0, 1<<50, nil)
	if err != nil {
		t.Fatal(err)
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

func TestOfflineViews(t *testing.T) {
	views, _ := Defaults()
	views = append(views, recentClicks, View{Name: "forever", Entity: "user_category", Features: []Feature{{Name: "n", Agg: "count"}}})
	ov, err := OfflineViews(views)
	if err != nil {
		t.Fatal(err)
	}
	if ov[0].Name != "views.user_features" || ov[1].Name != "views.product_features" || ov[2].Name != "user_recent_clicks" {
		t.Errorf("names %s %s %s", ov[0].Name, ov[1].Name, ov[2].Name)
	}
	want := offline.View{Name: "user_recent_clicks", Entity: "user_id", TTL: time.Hour, Fields: []offline.Field{
		{Name: "clicks_1h", Type: offline.Int64}, {Name: "spend", Type: offline.Float64},
		{Name: "last_category", Type: offline.String}, {Name: "last_seen", Type: offline.Timestamp}}}
	if !reflect.DeepEqual(ov[2], want) {
		t.Errorf("offline view %+v, want %+v", ov[2], want)
	}
	if ov[3].Entity != "user_category_id" || ov[3].TTL != foreverTTL {
		t.Errorf("TTL 0 view: %+v", ov[3])
	}
	for i := range ov {
		if err := ov[i].Validate(); err != nil {
			t.Error(err)
		}
	}
	bad := View{Name: "b", Entity: "user", Features: []Feature{{Name: "timestamp", Agg: "count"}, {Name: "user_id", Agg: "count"}}}
	if _, err := OfflineViews([]View{bad}); err == nil || !strings.Contains(err.Error(), "timestamp") || !strings.Contains(err.Error(), "user_id") {
		t.Errorf("clashing feature names: %v", err)
	}
}

// TestHistorySealedAtSnapshotWrittenAfterCommitted checks the protocol:
// rows are sealed by Snapshot, written only after Committed, under
// views-<epoch>, one row per entity changed since the last Snapshot, each
// as of the entity's newest event.
func TestHistorySealedAtSnapshotWrittenAfterCommitted(t *testing.T) {
	ctx := context.Background()
	e, sink := historyEngine(t, t.TempDir())
	C, P := event.Click, event.Purchase
	for _, r := range []event.Record{
		ev(C, "u1", "p1", "books", 10, 0),
		ev(C, "u1", "p2", "books", 10, 10),
		ev(P, "u1", "p2", "toys", 5, 20),
		ev(C, "u2", "p1", "books", 10, 5),
	} {
		e.Apply(&r)
	}
	if err := e.Flush(ctx); err != nil || len(sink.written()) != 0 {
		t.Fatalf("flush before any snapshot: %v", err)
	}
	if err := e.Snapshot(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if s, d := e.Pending(); s != 1 || d != 0 {
		t.Fatalf("pending %d sealed, %d durable; want 1, 0", s, d)
	}
	if err := e.Flush(ctx); err != nil || len(sink.written()) != 0 {
		t.Fatalf("flush before Committed wrote: %v", err)
	}
	e.Committed()
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := sink.written()
	sort.Strings(got)
	want := []string{"user_recent_clicks/views-000000000000:2", "views.product_features/views-000000000000:2",
		"views.user_features/views-000000000000:2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("writes %v, want %v", got, want)
	}
	if s, _ := e.Pending(); s != 0 {
		t.Fatalf("%d epochs left after the flush", s)
	}
	rows := rowsOf(t, sink.store, "user_recent_clicks")
	wantRows := []offline.Row{
		{Key: "u1", Time: at(20).UnixMilli(), Values: []offline.Value{offline.Int(2), offline.Float(5), offline.Str("toys"), offline.Int(at(20).UnixMilli())}},
		{Key: "u2", Time: at(5).UnixMilli(), Values: []offline.Value{offline.Int(1), offline.Float(0), offline.Null, offline.Int(at(5).UnixMilli())}},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Fatalf("rows\n%+v\nwant\n%+v", rows, wantRows)
	}

	// Nothing changed: no epoch. Then only u1 changes: only u1 gets a row.
	if err := e.Snapshot(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.Pending(); s != 0 {
		t.Fatalf("a snapshot without changes sealed %d epochs", s)
	}
	r := ev(C, "u1", "p3", "books", 1, 90) // the clicks at 0 and 10 left the hour
	e.Apply(&r)
	if err := e.Snapshot(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	e.Committed()
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got = sink.written()
	sort.Strings(got)
	want = []string{"user_recent_clicks/views-000000000001:1", "views.product_features/views-000000000001:1",
		"views.user_features/views-000000000001:1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("writes %v, want %v", got, want)
	}
	res, err := sink.store.PointInTime(ctx, "user_recent_clicks", []string{"clicks_1h"}, []offline.EntityRow{
		{Key: "u1", Time: at(-1).UnixMilli()}, {Key: "u1", Time: at(30).UnixMilli()}, {Key: "u1", Time: at(95).UnixMilli()}})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Cols[0]; !c.Null[0] || c.Null[1] || c.Ints[1] != 2 || c.Null[2] || c.Ints[2] != 1 {
		t.Fatalf("point in time: null %v, ints %v; want [true false false] [_ 2 1]", c.Null, c.Ints)
	}
}

// TestHistoryRestoreWritesSealed is the crash: a checkpoint holding sealed
// rows became durable, but the process died before writing them. The
// restored engine writes them under the same batch name, with the same
// rows, and numbers the next epoch after them.
func TestHistoryRestoreWritesSealed(t *testing.T) {
	ctx := context.Background()
	log := randomLog(3, 2000, t0.UnixMilli())
	a, sinkA := historyEngine(t, t.TempDir())
	for i := range log[:1000] {
		a.Apply(&log[i])
	}
	var ckpt bytes.Buffer
	if err := a.Snapshot(&ckpt); err != nil {
		t.Fatal(err)
	}
	// The checkpoint was durable (Committed would run), then the crash.
	a.Committed()
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wantWrites := sinkA.written()

	b, sinkB := historyEngine(t, t.TempDir())
	if err := b.Restore(bytes.NewReader(ckpt.Bytes())); err != nil {
		t.Fatal(err)
	}
	if s, d := b.Pending(); s != 1 || d != 1 {
		t.Fatalf("pending after restore: %d sealed, %d durable; want 1, 1", s, d)
	}
	sinkB.fail = errors.New("s3 down")
	if err := b.Flush(ctx); err == nil || !strings.Contains(err.Error(), "s3 down") {
		t.Fatalf("flush into a failing sink: %v", err)
	}
	sinkB.fail = nil
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	gotWrites := sinkB.written()
	sort.Strings(wantWrites)
	sort.Strings(gotWrites)
	if !reflect.DeepEqual(gotWrites, wantWrites) || len(gotWrites) != 3 {
		t.Fatalf("writes after restore %v, want %v", gotWrites, wantWrites)
	}
	for _, ov := range sinkA.store.Views()[2:] {
		if ra, rb := rowsOf(t, sinkA.store, ov.Name), rowsOf(t, sinkB.store, ov.Name); !reflect.DeepEqual(ra, rb) || len(ra) == 0 {
			t.Fatalf("%s: %d rows after restore differ from %d before", ov.Name, len(rb), len(ra))
		}
	}

	// A checkpoint that failed (no Committed): its epoch waits and is
	// written with the next one.
	for i := range log[1000:1500] {
		b.Apply(&log[1000+i])
	}
	if err := b.Snapshot(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for i := range log[1500:] {
		b.Apply(&log[1500+i])
	}
	var ckpt2 bytes.Buffer
	if err := b.Snapshot(&ckpt2); err != nil {
		t.Fatal(err)
	}
	if s, d := b.Pending(); s != 2 || d != 0 {
		t.Fatalf("pending: %d sealed, %d durable; want 2, 0", s, d)
	}
	// The second checkpoint holds both epochs.
	c, sinkC := historyEngine(t, t.TempDir())
	if err := c.Restore(bytes.NewReader(ckpt2.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(sinkC.written(), " ")
	for _, want := range []string{"user_recent_clicks/views-000000000001:", "user_recent_clicks/views-000000000002:"} {
		if !strings.Contains(got, want) {
			t.Errorf("writes %s lack %s", got, want)
		}
	}
}

// TestHistoryFromFormat2 restores a snapshot of format 2 (before history):
// it restores, and the next Snapshot seals a row for every entity.
func TestHistoryFromFormat2(t *testing.T) {
	log := randomLog(5, 500, t0.UnixMilli())
	views, od := Defaults()
	views = append(views, recentClicks)
	old, err := New(views, od, Options{}) // no history: nothing sealed
	if err != nil {
		t.Fatal(err)
	}
	for i := range log {
		old.Apply(&log[i])
	}
	var v3 bytes.Buffer
	if err := old.Snapshot(&v3); err != nil {
		t.Fatal(err)
	}
	// Format 2 is format 3 without the header's last two fields (epoch 0, no batches).
	r := bytes.NewReader(v3.Bytes())
	hdr, err := wire.ReadRecord(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 3 || hdr[len(hdr)-2] != 0 || hdr[len(hdr)-1] != 0 {
		t.Fatalf("unexpected header %x", hdr)
	}
	hdr = append([]byte{2}, hdr[1:len(hdr)-2]...)
	var v2 bytes.Buffer
	if err := wire.WriteRecord(&v2, hdr); err != nil {
		t.Fatal(err)
	}
	v2.ReadFrom(r)

	e, sink := historyEngine(t, t.TempDir())
	if err := e.Restore(&v2); err != nil {
		t.Fatalf("restore format 2: %v", err)
	}
	if err := e.Snapshot(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	e.Committed()
	if err := e.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rowsOf(t, sink.store, "user_recent_clicks")); n != len(entityKeys(e, "user_recent_clicks")) || n == 0 {
		t.Fatalf("%d rows for %d entities", n, len(entityKeys(e, "user_recent_clicks")))
	}
}

// TestApplyAllocs: marking entities changed allocates nothing, before and
// after a Snapshot cleared the marks.
func TestApplyAllocs(t *testing.T) {
	log := randomLog(9, 5000, t0.UnixMilli())
	e, _ := historyEngine(t, t.TempDir())
	for i := range log {
		e.Apply(&log[i]) // every entity and distinct value exists
	}
	i := 0
	apply := func() { e.Apply(&log[i%len(log)]); i++ }
	if n := testing.AllocsPerRun(2000, apply); n != 0 {
		t.Errorf("Apply: %v allocations, want 0", n)
	}
	if err := e.Snapshot(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(2000, apply); n != 0 {
		t.Errorf("Apply after a Snapshot: %v allocations, want 0", n)
	}
}

// TestHistoryRun: Run writes what Committed makes durable, and flushes once
// more when its context ends.
func TestHistoryRun(t *testing.T) {
	e, sink := historyEngine(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, time.Hour, func(err error) { t.Error(err) }) }()
	r := ev(event.Click, "u1", "p1", "books", 1, 0)
	e.Apply(&r)
	if err := e.Snapshot(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	e.Committed()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if s, _ := e.Pending(); s == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not write the committed epoch")
		}
	}
	r = ev(event.Click, "u1", "p1", "books", 1, 1)
	e.Apply(&r)
	if err := e.Snapshot(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	e.Committed()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s, _ := e.Pending(); s != 0 {
		t.Fatalf("%d epochs left after Run returned", s)
	}
	if n := len(rowsOf(t, sink.store, "user_recent_clicks")); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}
