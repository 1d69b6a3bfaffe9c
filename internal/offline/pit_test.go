package offline_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/offline"
)

func TestPointInTimeBoundaries(t *testing.T) {
	s := newStore(t)
	ttl := (30 * 24 * time.Hour).Milliseconds()
	t0 := ms(12, 0, 0)
	// Arrival order differs from time order: the later row is written
	// first, in another file and another date partition.
	if err := s.WriteRows(ctx, offline.UserFeatures, "late", []offline.Row{userRow("u1", t0+day, 20)}); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteRows(ctx, offline.UserFeatures, "early", []offline.Row{
		userRow("u1", t0, 10), userRow("u2", t0-ttl, 5), userRow("u3", t0, 1),
	}); err != nil {
		t.Fatal(err)
	}
	// Same key and timestamp in a file read later: it wins.
	if err := s.WriteRows(ctx, offline.UserFeatures, "zz-tie", []offline.Row{userRow("u3", t0, 2)}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		key    string
		at     int64
		clicks int64 // -1: no match
	}{
		{"before any row", "u1", t0 - 1, -1},
		{"equal timestamp is included", "u1", t0, 10},
		{"between rows: the earlier", "u1", t0 + day - 1, 10},
		{"equal to the later row", "u1", t0 + day, 20},
		{"never a later row", "u1", t0 + 5, 10},
		{"last instant inside the TTL", "u1", t0 + ttl - 1 + day, 20},
		{"exactly TTL old is excluded", "u1", t0 + ttl + day, -1},
		{"row exactly TTL before: excluded", "u2", t0, -1},
		{"one ms inside the TTL", "u2", t0 - 1, 5},
		{"unknown key", "nobody", t0, -1},
		{"tie: the row read last", "u3", t0, 2},
	}
	var ents []offline.EntityRow
	for _, c := range cases {
		ents = append(ents, offline.EntityRow{Key: c.key, Time: c.at})
	}
	res, err := s.PointInTime(ctx, offline.UserFeatures, []string{"clicks", "last_event_time"}, ents)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.clicks < 0 {
				if res.Matched[i] || !res.Cols[0].Null[i] || !res.Cols[1].Null[i] {
					t.Fatalf("matched row at %d: clicks %v", res.RowTime[i], res.Cols[0].Value(i))
				}
				return
			}
			if !res.Matched[i] || res.Cols[0].Null[i] || res.Cols[0].Ints[i] != c.clicks {
				t.Fatalf("clicks %v (matched %v at %d), want %d", res.Cols[0].Value(i), res.Matched[i], res.RowTime[i], c.clicks)
			}
			if res.RowTime[i] > c.at {
				t.Fatalf("used a row from %d, after %d", res.RowTime[i], c.at)
			}
			if got := res.Cols[1].Ints[i]; got != res.RowTime[i]-10 {
				t.Fatalf("last_event_time %d, want %d", got, res.RowTime[i]-10)
			}
		})
	}
}

func TestPointInTimeProductTTL(t *testing.T) {
	s := newStore(t)
	t0 := ms(0, 0, 0)
	s.WriteRows(ctx, offline.ProductFeatures, "daily-1", []offline.Row{{Key: "p", Time: t0, Values: []offline.Value{
		offline.Str("shoes"), offline.Null, offline.Float(1), offline.Float(0), offline.Null, offline.Int(4)}}})
	ents := []offline.EntityRow{{Key: "p", Time: t0 + 7*day - 1}, {Key: "p", Time: t0 + 7*day}}
	res, err := s.PointInTime(ctx, offline.ProductFeatures, []string{"category", "price", "inventory_level"}, ents)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Matched[0] || res.Cols[0].Strs[0] != "shoes" || !res.Cols[1].Null[0] || res.Cols[2].Ints[0] != 4 {
		t.Fatalf("inside the 7-day TTL: %+v", res)
	}
	if res.Matched[1] {
		t.Fatalf("7 days old matched: %+v", res)
	}
}

func TestWithViewsPointInTime(t *testing.T) {
	base := newStore(t)
	v := offline.View{Name: "user_recent_clicks", Entity: "user_id", TTL: time.Hour,
		Fields: []offline.Field{{Name: "clicks_1h", Type: offline.Int64}, {Name: "spend", Type: offline.Float64}}}
	s, err := base.WithViews(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := base.View(v.Name); err == nil {
		t.Error("WithViews changed the original store")
	}
	if _, err := s.WithViews(v); reco.KindOf(err) != reco.Invalid {
		t.Errorf("a repeated view: %v, want Invalid", err)
	}
	if _, err := s.WithViews(offline.View{Name: "x", Entity: "user_id"}); reco.KindOf(err) != reco.Invalid {
		t.Errorf("a view without TTL: %v, want Invalid", err)
	}
	row := func(at, clicks int64) offline.Row {
		return offline.Row{Key: "u1", Time: at, Values: []offline.Value{offline.Int(clicks), offline.Null}}
	}
	// Two batches hold a row at the same time: the later batch name wins.
	if err := s.WriteRows(ctx, v.Name, "views-000000000001", []offline.Row{row(ms(10, 0, 0), 1), row(ms(10, 30, 0), 2)}); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteRows(ctx, v.Name, "views-000000000002", []offline.Row{row(ms(10, 30, 0), 3)}); err != nil {
		t.Fatal(err)
	}
	ents := []offline.EntityRow{{Key: "u1", Time: ms(9, 59, 59)}, {Key: "u1", Time: ms(10, 0, 0)}, {Key: "u1", Time: ms(10, 29, 0)},
		{Key: "u1", Time: ms(10, 30, 0)}, {Key: "u1", Time: ms(11, 30, 0)}}
	res, err := s.PointInTime(ctx, v.Name, []string{"clicks_1h", "spend"}, ents)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"null", "1", "1", "3", "null"} // the last: exactly TTL old
	for i, w := range want {
		got := "null"
		if c := res.Cols[0]; !c.Null[i] {
			got = fmt.Sprint(c.Ints[i])
		}
		if got != w {
			t.Errorf("row %d: clicks_1h = %s, want %s", i, got, w)
		}
		if !res.Cols[1].Null[i] {
			t.Errorf("row %d: spend is not null", i)
		}
	}
}
