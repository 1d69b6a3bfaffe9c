// Package blobtest is the contract suite every offline.Bucket passes, and
// a check that the Parquet store works over the bucket.
package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/offline"
)

// Run runs the contract against b, which must be empty.
func Run(t *testing.T, b offline.Bucket) {
	ctx := context.Background()
	t.Run("PutGetListDelete", func(t *testing.T) {
		put := func(key, data string) {
			t.Helper()
			if err := b.Put(ctx, key, bytes.NewReader([]byte(data)), int64(len(data))); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
		}
		put("a/x/1.parquet", "one")
		put("a/x/2.parquet", "two")
		put("a/y/3.parquet", "three")
		put("b/4.parquet", "four")
		put("a/x/1.parquet", "uno") // replace
		if got := Read(t, b, "a/x/1.parquet"); got != "uno" {
			t.Fatalf("get after replace: %q", got)
		}
		objs, err := b.List(ctx, "a/x/")
		if err != nil {
			t.Fatal(err)
		}
		want := []offline.ObjectInfo{{Key: "a/x/1.parquet", Size: 3}, {Key: "a/x/2.parquet", Size: 3}}
		if !reflect.DeepEqual(objs, want) {
			t.Fatalf("list a/x/: %+v, want %+v", objs, want)
		}
		objs, _ = b.List(ctx, "a/")
		if len(objs) != 3 {
			t.Fatalf("list a/: %+v", objs)
		}
		objs, _ = b.List(ctx, "a/x/2")
		if len(objs) != 1 {
			t.Fatalf("list by partial name: %+v", objs)
		}
		if err := b.Delete(ctx, "a/x/1.parquet"); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, "a/x/1.parquet"); err != nil {
			t.Fatalf("delete of a missing key: %v", err)
		}
		if _, err := b.Get(ctx, "a/x/1.parquet"); reco.KindOf(err) != reco.NotFound {
			t.Fatalf("get of a deleted key: %v (kind %v)", err, reco.KindOf(err))
		}
		if objs, _ := b.List(ctx, "nothing/"); len(objs) != 0 {
			t.Fatalf("list of an empty prefix: %+v", objs)
		}
		for _, k := range []string{"a/x/2.parquet", "a/y/3.parquet", "b/4.parquet"} {
			if err := b.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("ParquetStore", func(t *testing.T) {
		s, err := offline.New(b, offline.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC).UnixMilli()
		var rows []offline.Row
		for i := 0; i < 1000; i++ {
			rows = append(rows, offline.Row{Key: fmt.Sprintf("u%d", i%100), Time: t0 + int64(i)*60_000, Values: []offline.Value{
				offline.Int(int64(i)), offline.Int(1), offline.Int(0), offline.Int(0), offline.Float(0), offline.Int(1),
				offline.Int(t0), offline.Null}})
		}
		w := s.NewWriter(offline.UserFeatures, "w", 300)
		if err := w.Write(ctx, rows...); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		evs := []event.Event{{Type: event.Click, UserID: "u1", ProductID: "p", Quantity: 1, Price: -1, Time: t0}}
		if err := s.WriteEvents(ctx, offline.EventsSet, "e1", evs); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Compact(ctx, offline.CompactOptions{}); err != nil {
			t.Fatal(err)
		}
		tb, err := s.ReadRows(ctx, offline.UserFeatures, 0, 1<<50, []string{"total_events"})
		if err != nil {
			t.Fatal(err)
		}
		if tb.Len() != len(rows) {
			t.Fatalf("read %d rows after compaction, want %d", tb.Len(), len(rows))
		}
		sum := int64(0)
		for _, v := range tb.Cols[0].Ints {
			sum += v
		}
		if sum != 999*1000/2 {
			t.Fatalf("sum %d", sum)
		}
		res, err := s.PointInTime(ctx, offline.UserFeatures, []string{"total_events"}, []offline.EntityRow{{Key: "u7", Time: t0 + 507*60_000}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Matched[0] || res.Cols[0].Ints[0] != 507 {
			t.Fatalf("point in time: %+v", res.Cols[0])
		}
		got, err := s.ReadEvents(ctx, offline.EventsSet, 0, 1<<50)
		if err != nil || !reflect.DeepEqual(got, evs) {
			t.Fatalf("events %+v %v", got, err)
		}
	})
}

// Read reads a whole object.
func Read(t testing.TB, b offline.Bucket, key string) string {
	t.Helper()
	o, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer o.Close()
	data, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
