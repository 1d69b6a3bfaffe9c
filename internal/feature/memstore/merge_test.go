package memstore_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/feature/storetest"
)

func TestMergeScored(t *testing.T) {
	a := []memstore.Scored{{"x", 3}, {"y", 2}, {"z", 1}}
	b := []memstore.Scored{{"y", 2}, {"w", 3}}
	c := []memstore.Scored{{"z", 0.5}}
	for _, tt := range []struct {
		name  string
		lists [][]memstore.Scored
		n     int
		want  []memstore.Scored
	}{
		{"sums, ties by id", [][]memstore.Scored{a, b, c}, 0, []memstore.Scored{{"y", 4}, {"w", 3}, {"x", 3}, {"z", 1.5}}},
		{"truncated", [][]memstore.Scored{a, b, c}, 2, []memstore.Scored{{"y", 4}, {"w", 3}}},
		{"one list", [][]memstore.Scored{a}, 5, a},
		{"none", nil, 3, []memstore.Scored{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := memstore.MergeScored(tt.lists, tt.n); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if a[0] != (memstore.Scored{"x", 3}) || b[0] != (memstore.Scored{"y", 2}) {
		t.Error("inputs modified")
	}
}

// TestMergeScoredOrderIndependent: scores whose float sum depends on the
// order of addition still merge to the same bits in every order.
func TestMergeScoredOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lists := make([][]memstore.Scored, 5)
	for i := range lists {
		for j := 0; j < 50; j++ {
			lists[i] = append(lists[i], memstore.Scored{ID: fmt.Sprint("p", rng.IntN(40)), Score: rng.Float64() * math.Pow(10, float64(rng.IntN(12)))})
		}
	}
	want := memstore.MergeScored(lists, 30)
	for k := 0; k < 50; k++ {
		rng.Shuffle(len(lists), func(i, j int) { lists[i], lists[j] = lists[j], lists[i] })
		for _, l := range lists {
			rng.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
		}
		if got := memstore.MergeScored(lists, 30); !reflect.DeepEqual(got, want) {
			t.Fatalf("order %d:\n got %v\nwant %v", k, got, want)
		}
	}
}

// partitioned applies storetest's history to one store and to n stores,
// one per partition: events by user, catalog upserts by product.
func partitioned(n int) (*memstore.Store, []*memstore.Store) {
	clock := func() time.Time { return storetest.Now }
	one := memstore.New(memstore.Options{Now: clock})
	parts := make([]*memstore.Store, n)
	for i := range parts {
		parts[i] = memstore.New(memstore.Options{Now: clock})
	}
	num := func(id string) int { v, _ := strconv.Atoi(strings.TrimLeft(id, "up")); return v }
	recs := storetest.Records(2000)
	for i := range recs {
		r := &recs[i]
		one.Apply(r)
		if r.Kind == event.KindProduct {
			parts[num(r.Product.ID)%n].Apply(r)
		} else {
			parts[num(r.Event.UserID)%n].Apply(r)
		}
	}
	one.RefreshIndex()
	for _, p := range parts {
		p.RefreshIndex()
	}
	return one, parts
}

func TestMergeCoVisitation(t *testing.T) {
	one, parts := partitioned(3)
	for i := 0; i < 60; i++ {
		id := fmt.Sprint("p", i)
		var lists [][]memstore.Scored
		for _, p := range parts {
			lists = append(lists, p.CoVisited(id, 1000))
		}
		got, want := memstore.MergeScored(lists, 10), one.CoVisited(id, 10)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", id, got, want)
		}
	}
}

func TestMergeIndexes(t *testing.T) {
	one, parts := partitioned(3)
	ixs := []*memstore.Index{parts[0].Index(), parts[1].Index(), nil, parts[2].Index()}
	got := memstore.MergeIndexes(ixs, float64((7 * 24 * time.Hour).Milliseconds()), 0, 0)
	want := one.Index()
	if got.Built != want.Built || got.Categories != len(got.ByCategory) || got.MaxPop != got.Global[0].Score {
		t.Errorf("built %d categories %d maxpop %v", got.Built, got.Categories, got.MaxPop)
	}
	// The whole state leaves out the products the catalog marks
	// unavailable; the partitions without their upsert do not.
	inStock := func(l []memstore.Scored, ref []memstore.Scored) []memstore.Scored {
		keep := map[string]bool{}
		for _, s := range ref {
			keep[s.ID] = true
		}
		return slices.DeleteFunc(slices.Clone(l), func(s memstore.Scored) bool { return !keep[s.ID] })
	}
	same := func(name string, got, want []memstore.Scored) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d items, want %d", name, len(got), len(want))
		}
		for i := range want {
			if math.Abs(got[i].Score-want[i].Score) > 1e-9*want[i].Score {
				t.Errorf("%s %d: %v, want %v", name, i, got[i], want[i])
			}
		}
	}
	same("global", inStock(got.Global, want.Global), want.Global)
	for c, l := range want.ByCategory {
		same(c, inStock(got.ByCategory[c], l), l)
	}
	for k := 0; k < 10; k++ {
		rand.Shuffle(len(ixs), func(i, j int) { ixs[i], ixs[j] = ixs[j], ixs[i] })
		if again := memstore.MergeIndexes(ixs, float64((7 * 24 * time.Hour).Milliseconds()), 0, 0); !reflect.DeepEqual(again, got) {
			t.Fatalf("order %d differs", k)
		}
	}
}

// TestMergeIndexesDecaysToNewest: a partition that built its index a
// half-life earlier counts half.
func TestMergeIndexesDecaysToNewest(t *testing.T) {
	const hl = 1000
	a := &memstore.Index{Built: 5000, Global: []memstore.Scored{{"x", 4}}, ByCategory: map[string][]memstore.Scored{"c": {{"x", 4}}}}
	b := &memstore.Index{Built: 5000 + hl, Global: []memstore.Scored{{"y", 3}}, Trending: []memstore.Scored{{"y", 1}}}
	got := memstore.MergeIndexes([]*memstore.Index{a, b}, hl, 0, 0)
	want := &memstore.Index{Built: 5000 + hl, Global: []memstore.Scored{{"y", 3}, {"x", 2}}, Trending: []memstore.Scored{{"y", 1}},
		ByCategory: map[string][]memstore.Scored{"c": {{"x", 2}}}, MaxPop: 3, Categories: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := memstore.MergeIndexes([]*memstore.Index{a, b}, hl, 1, 0); len(got.Global) != 1 || got.Global[0].ID != "y" {
		t.Errorf("global limited to 1: %v", got.Global)
	}
}
