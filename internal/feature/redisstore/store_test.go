package redisstore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/feature/storetest"
)

// servers returns the real Redis deployments to test against: a standalone
// node (RECO_TEST_REDIS_ADDR) and a cluster (RECO_TEST_REDIS_CLUSTER).
// Without them the tests skip, unless RECO_TEST_REDIS=1 demands them.
func servers(t *testing.T) map[string][]string {
	out := map[string][]string{}
	if a := os.Getenv("RECO_TEST_REDIS_ADDR"); a != "" {
		out["standalone"] = []string{a}
	}
	if c := os.Getenv("RECO_TEST_REDIS_CLUSTER"); c != "" {
		out["cluster"] = strings.Split(c, ",")
	}
	if len(out) == 0 {
		if os.Getenv("RECO_TEST_REDIS") == "1" {
			t.Fatal("RECO_TEST_REDIS=1 but no RECO_TEST_REDIS_ADDR or RECO_TEST_REDIS_CLUSTER (run scripts/redis-test-server.sh)")
		}
		t.Skip("no Redis: set RECO_TEST_REDIS_ADDR / RECO_TEST_REDIS_CLUSTER (scripts/redis-test-server.sh)")
	}
	return out
}

func open(t *testing.T, addrs []string) *Store {
	t.Helper()
	prefix := fmt.Sprintf("test%d:", time.Now().UnixNano())
	s, err := Open(context.Background(), Options{Addresses: addrs, Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Flush(context.Background()); s.Close() })
	return s
}

// write writes everything ref changed as of offset off (one partition).
func write(t *testing.T, s *Store, ref *memstore.Store, off int64) WriteStats {
	t.Helper()
	d := ref.TakeDirty()
	b := Batch{Offsets: []int64{off}, Products: d.Products, CoVisit: d.CoVisit, Index: ref.Index()}
	for _, u := range d.Users {
		b.Users = append(b.Users, u)
		b.UserPart = append(b.UserPart, 0)
	}
	st, err := s.Write(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RefreshIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestContract(t *testing.T) {
	for name, addrs := range servers(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, addrs)
			storetest.Run(t, func(t *testing.T, ref *memstore.Store, recs []event.Record) storetest.Store {
				write(t, s, ref, int64(len(recs)))
				return s
			})
		})
	}
}

// TestReplayNeverGoesBack writes a newer state, then the older state a
// replay after a crash produces: Redis keeps the newer one; and replaying
// to the same point writes the same values again.
func TestReplayNeverGoesBack(t *testing.T) {
	for name, addrs := range servers(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, addrs)
			recs := storetest.Records(600)
			clock := func() time.Time { return storetest.Now }
			newRef := func(n int) *memstore.Store {
				ref := memstore.New(memstore.Options{Now: clock, TrackDirty: true})
				for i := 0; i < n; i++ {
					ref.Apply(&recs[i])
				}
				ref.RefreshIndex()
				return ref
			}
			full := newRef(len(recs))
			st := write(t, s, full, int64(len(recs)))
			if st.Written == 0 || st.Refused != 0 {
				t.Fatalf("first write: %+v", st)
			}
			half := newRef(len(recs) / 2) // a replay from an older checkpoint
			st = write(t, s, half, int64(len(recs)/2))
			if st.Written != 0 || st.Refused == 0 {
				t.Fatalf("older write: %+v, want everything refused", st)
			}
			for _, id := range []string{"u1", "u7", "u20"} {
				want, _ := full.User(id)
				got, ok := s.User(id)
				if !ok || got.Total != want.Total {
					t.Errorf("%s after an older write: %+v, want total %d", id, got, want.Total)
				}
			}
			again := newRef(len(recs))
			st = write(t, s, again, int64(len(recs)))
			if st.Refused != 0 || st.Written == 0 {
				t.Errorf("replay to the same offsets: %+v, want written", st)
			}
		})
	}
}

// TestProductGuardIsAVector: a product written at offsets (10, 5) is not
// overwritten at (12, 4), but is at (12, 5).
func TestProductGuardIsAVector(t *testing.T) {
	for name, addrs := range servers(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, addrs)
			p := feature.NewProduct("p")
			put := func(views int64, offs ...int64) WriteStats {
				c := *p
				c.Views = views
				st, err := s.Write(context.Background(), Batch{Offsets: offs, Products: []*feature.Product{&c}})
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			put(1, 10, 5)
			if st := put(2, 12, 4); st.Written != 0 {
				t.Errorf("(12,4) over (10,5) written")
			}
			if st := put(3, 12, 5); st.Written != 1 {
				t.Errorf("(12,5) over (10,5) refused")
			}
			var out [1]*feature.Product
			s.Products([]string{"p"}, out[:])
			if out[0] == nil || out[0].Views != 3 {
				t.Errorf("stored %+v", out[0])
			}
		})
	}
}

// TestMemoryPerUser measures Redis memory per user for the state serving
// reads (the served features plus recent items, categories and purchases)
// of a typical user: 20 events on 7 products in 4 categories.
func TestMemoryPerUser(t *testing.T) {
	addrs, ok := servers(t)["standalone"]
	if !ok {
		t.Skip("needs the standalone server")
	}
	s := open(t, addrs)
	ref := memstore.New(memstore.Options{Now: func() time.Time { return storetest.Now }, TrackDirty: true})
	const users = 2000
	for u := 0; u < users; u++ {
		for i := 0; i < 20; i++ {
			typ := []event.Type{event.View, event.View, event.View, event.Click, event.AddToCart, event.Purchase}[(u+i)%6]
			r := event.Record{Kind: event.KindEvent, Event: event.Event{Type: typ, UserID: fmt.Sprintf("user-%07d", u),
				ProductID: fmt.Sprintf("prod-%06d", (u*7+(i/3)*13)%50000), // a view, then a click or cart of the same item Category: fmt.Sprintf("category-%02d", (u+i/5)%50),
				SessionID: fmt.Sprintf("sess-%d-%d", u, i/10), Price: 20, Quantity: 1, Time: storetest.Now.Add(time.Duration(i) * time.Minute).UnixMilli()}}
			ref.Apply(&r)
		}
	}
	d := ref.TakeDirty()
	b := Batch{Offsets: []int64{1}}
	for _, u := range d.Users {
		b.Users = append(b.Users, u)
		b.UserPart = append(b.UserPart, 0)
	}
	if _, err := s.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	var total int64
	for u := 0; u < users; u += 20 {
		n, err := s.MemoryUsage(context.Background(), fmt.Sprintf("user-%07d", u))
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	per := float64(total) / float64(users/20)
	t.Logf("Redis memory per user (20 events, MEMORY USAGE of its key): %.0f bytes = %.3f GiB per 1M users", per, per*1e6/(1<<30))
	if per > 1024 {
		t.Errorf("%.0f bytes per user", per)
	}
}
