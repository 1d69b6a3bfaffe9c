package offline_test

import (
	"testing"
	"time"

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
