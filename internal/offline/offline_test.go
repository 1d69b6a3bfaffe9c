package offline_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
)

var ctx = context.Background()

func newStore(t testing.TB) *offline.Store {
	t.Helper()
	s, err := offline.New(fileblob.New(t.TempDir()), offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ms builds a Unix ms time on 2025-03-10 UTC.
func ms(hh, mm, ss int) int64 {
	return time.Date(2025, 3, 10, hh, mm, ss, 0, time.UTC).UnixMilli()
}

const day = 24 * 3600 * 1000

func userRow(key string, at int64, clicks int64) offline.Row {
	return offline.Row{Key: key, Time: at, Values: []offline.Value{
		offline.Int(clicks * 2), offline.Int(clicks), offline.Int(0), offline.Int(1), offline.Float(0.5), offline.Null,
		offline.Int(at - 1000), offline.Int(at - 10)}}
}

func sortRows(rows []offline.Row) {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Key != rows[j].Key {
			return rows[i].Key < rows[j].Key
		}
		return rows[i].Time < rows[j].Time
	})
}

func readAll(t testing.TB, s *offline.Store, view string) []offline.Row {
	t.Helper()
	tb, err := s.ReadRows(ctx, view, 0, 1<<50, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]offline.Row, tb.Len())
	for i := range out {
		out[i] = tb.Row(i)
	}
	sortRows(out)
	return out
}

func TestParquetRoundTrip(t *testing.T) {
	s := newStore(t)
	rows := []offline.Row{
		userRow("u1", ms(10, 5, 0), 3),
		userRow("u2", ms(23, 55, 0), 1),
		userRow("u1", ms(10, 5, 0)+day, 7), // the next day: another partition
	}
	if err := s.WriteRows(ctx, offline.UserFeatures, "b-1", rows); err != nil {
		t.Fatal(err)
	}
	prod := []offline.Row{{Key: "p1", Time: ms(0, 0, 0), Values: []offline.Value{offline.Str("shoes"), offline.Float(9.5),
		offline.Float(1.25), offline.Float(0.1), offline.Null, offline.Int(-3)}}}
	if err := s.WriteRows(ctx, offline.ProductFeatures, "daily-20250310", prod); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, s, offline.UserFeatures)
	want := append([]offline.Row(nil), rows...)
	sortRows(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("user rows:\n got %+v\nwant %+v", got, want)
	}
	if got := readAll(t, s, offline.ProductFeatures); !reflect.DeepEqual(got, prod) {
		t.Fatalf("product rows:\n got %+v\nwant %+v", got, prod)
	}
	objs, _ := s.Bucket().List(ctx, "")
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	wantKeys := []string{
		"view=product_features/date=2025-03-10/daily-20250310.parquet",
		"view=user_features/date=2025-03-10/b-1.parquet",
		"view=user_features/date=2025-03-11/b-1.parquet",
	}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Fatalf("keys %v, want %v", keys, wantKeys)
	}
	// Rewriting a batch replaces it.
	if err := s.WriteRows(ctx, offline.UserFeatures, "b-1", rows); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, offline.UserFeatures); len(got) != 3 {
		t.Fatalf("after rewrite: %d rows, want 3", len(got))
	}
	// Time range reads are half open.
	tb, err := s.ReadRows(ctx, offline.UserFeatures, ms(10, 5, 0), ms(23, 55, 0), []string{"clicks"})
	if err != nil || tb.Len() != 1 || tb.Keys[0] != "u1" || tb.Cols[0].Ints[0] != 3 {
		t.Fatalf("range read: %+v, %v", tb, err)
	}
	if _, err := s.ReadRows(ctx, "nope", 0, 1, nil); reco.KindOf(err) != reco.Invalid {
		t.Fatalf("unknown view: %v", err)
	}
}

func TestEventsRoundTrip(t *testing.T) {
	s := newStore(t)
	evs := []event.Event{
		{Type: event.Click, UserID: "u1", ProductID: "p1", SessionID: "s", Category: "c", Price: 9.5, Quantity: 1, Time: ms(1, 0, 0),
			RequestID: "r", Ingested: ms(1, 0, 1), SourceKey: "k"},
		{Type: event.Review, UserID: "u2", ProductID: "p2", Price: -1, Quantity: 1, Rating: 4, Time: ms(1, 0, 0) + day},
	}
	if err := s.WriteEvents(ctx, offline.EventsSet, "e-1", evs); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadEvents(ctx, offline.EventsSet, 0, 1<<50)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, evs) {
		t.Fatalf("got %+v\nwant %+v", got, evs)
	}
	if _, err := os.Stat(s.Bucket().(*fileblob.Bucket).Dir() + "/events/date=2025-03-11/e-1.parquet"); err != nil {
		t.Fatal(err)
	}
}

func TestCompactKeepsEveryRowOnce(t *testing.T) {
	s := newStore(t)
	var want []offline.Row
	for b := 0; b < 5; b++ {
		var rows []offline.Row
		for i := 0; i < 10; i++ {
			rows = append(rows, userRow(fmt.Sprintf("u%d", i), ms(10, b, 0)+int64(i), int64(b)))
		}
		want = append(want, rows...)
		if err := s.WriteRows(ctx, offline.UserFeatures, fmt.Sprintf("w-%d", b), rows); err != nil {
			t.Fatal(err)
		}
	}
	evs := []event.Event{{Type: event.View, UserID: "u", Time: ms(1, 0, 0), Quantity: 1}}
	s.WriteEvents(ctx, offline.EventsSet, "a", evs)
	s.WriteEvents(ctx, offline.EventsSet, "b", evs)
	sortRows(want)
	var progress []offline.CompactProgress
	st, err := s.Compact(ctx, offline.CompactOptions{Before: "2025-03-11", Progress: func(p offline.CompactProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.FilesIn != 7 || st.FilesOut != 2 || st.Rows != 52 || len(progress) != 2 {
		t.Fatalf("stats %+v progress %+v", st, progress)
	}
	if got := readAll(t, s, offline.UserFeatures); !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction %d rows, want %d", len(got), len(want))
	}
	if got, _ := s.ReadEvents(ctx, offline.EventsSet, 0, 1<<50); len(got) != 2 {
		t.Fatalf("events after compaction: %d", len(got))
	}
	objs, _ := s.Bucket().List(ctx, "view=user_features/")
	if len(objs) != 1 || !strings.Contains(objs[0].Key, "/compact-") {
		t.Fatalf("files after compaction: %+v", objs)
	}
	// A crash between writing the merged file and deleting its inputs:
	// the inputs come back (a retried batch rewrite looks the same).
	if err := s.WriteRows(ctx, offline.UserFeatures, "w-2", want[:0:0]); err != nil {
		t.Fatal(err)
	}
	var rows []offline.Row
	for i := 0; i < 10; i++ {
		rows = append(rows, userRow(fmt.Sprintf("u%d", i), ms(10, 2, 0)+int64(i), 2))
	}
	s.WriteRows(ctx, offline.UserFeatures, "w-2", rows)
	if got := readAll(t, s, offline.UserFeatures); !reflect.DeepEqual(got, want) {
		t.Fatalf("with a replaced file present: %d rows, want %d", len(got), len(want))
	}
	// A new batch, then compaction again: merged with the old merged file;
	// the stale w-2 is deleted.
	extra := userRow("z", ms(11, 0, 0), 1)
	s.WriteRows(ctx, offline.UserFeatures, "w-9", []offline.Row{extra})
	st, err = s.Compact(ctx, offline.CompactOptions{Datasets: []string{offline.UserFeatures}})
	if err != nil {
		t.Fatal(err)
	}
	if st.FilesIn != 2 || st.Deleted != 3 {
		t.Fatalf("second compaction %+v", st)
	}
	want = append(want, extra)
	sortRows(want)
	if got := readAll(t, s, offline.UserFeatures); !reflect.DeepEqual(got, want) {
		t.Fatalf("after second compaction %d rows, want %d", len(got), len(want))
	}
	// Idempotent.
	st, err = s.Compact(ctx, offline.CompactOptions{})
	if err != nil || st.FilesOut != 0 || st.Deleted != 0 {
		t.Fatalf("third compaction %+v %v", st, err)
	}
}
