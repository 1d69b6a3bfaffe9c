package feature

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/recohq/reco/internal/event"
)

// permutations calls f with every order of 0..n-1.
func permutations(n int, f func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			f(p)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

func TestDecayedMerge(t *testing.T) {
	const hl = 3600e3
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 100; trial++ {
		var all Decayed
		parts := make([]Decayed, 1+rng.IntN(5))
		t0 := int64(1700000000000)
		for i := 0; i < 50; i++ {
			w, at := float64(1+rng.IntN(8)), t0+rng.Int64N(10*3600e3) // out of order too
			all.Add(w, at, hl)
			parts[rng.IntN(len(parts))].Add(w, at, hl)
		}
		got := SumDecayed(parts, hl)
		if got.T != all.T || math.Abs(got.V-all.V) > 1e-12*all.V {
			t.Fatalf("merged %+v, one stream %+v", got, all)
		}
		permutations(len(parts), func(p []int) {
			ds := make([]Decayed, len(p))
			for i, j := range p {
				ds[i] = parts[j]
			}
			if g := SumDecayed(ds, hl); g != got || math.Float64bits(g.V) != math.Float64bits(got.V) {
				t.Fatalf("order %v: %+v, want %+v", p, g, got)
			}
		})
		if len(parts) >= 2 && parts[0].Merge(parts[1], hl) != parts[1].Merge(parts[0], hl) {
			t.Fatal("Merge is not commutative")
		}
	}
	d := Decayed{V: 3, T: 10}
	for _, tt := range []struct {
		name string
		got  Decayed
		want Decayed
	}{
		{"empty and empty", Decayed{}.Merge(Decayed{}, hl), Decayed{}},
		{"empty is neutral", d.Merge(Decayed{}, hl), d},
		{"one half-life apart", Decayed{V: 4, T: 0 + 1}.Merge(Decayed{V: 1, T: 1 + hl}, hl), Decayed{V: 3, T: 1 + hl}},
		{"nothing", SumDecayed(nil, hl), Decayed{}},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
}

// splitProduct applies events on one product to a single state and to
// n partial states (by user), and a catalog upsert to partial state cat
// (-1: none).
func splitProduct(rng *rand.Rand, n, cat int) (*Product, []*Product) {
	o := Options{}.WithDefaults()
	one := NewProduct("p")
	parts := make([]*Product, n)
	for i := range parts {
		parts[i] = NewProduct("p")
	}
	up := &event.Product{ID: "p", Category: "shoes", Name: "Shoe", Price: 30, HasPrice: true, Inventory: 1000, HasInventory: true,
		Margin: 0.3, HasMargin: true, Promoted: true, HasPromoted: true, Available: true, HasAvailable: true, Attributes: map[string]string{"size": "42"}}
	if cat >= 0 {
		one.ApplyUpsert(up)
		parts[cat].ApplyUpsert(up)
	}
	types := []event.Type{event.View, event.Click, event.AddToCart, event.Purchase, event.Review}
	for i := 0; i < 300; i++ {
		u := rng.IntN(40)
		e := &event.Event{Type: types[rng.IntN(len(types))], UserID: fmt.Sprint(u), ProductID: "p", Price: -1, Quantity: 1,
			Time: 1700000000000 + int64(i)*60e3 - rng.Int64N(600e3)}
		if e.Type == event.Review {
			e.Rating = int8(1 + rng.IntN(5))
		}
		if i == 7 {
			e.Category, e.Price = "footwear", 29
		}
		one.ApplyEvent(e, &o)
		parts[u%n].ApplyEvent(e, &o)
	}
	return one, parts
}

func TestMergeProducts(t *testing.T) {
	o := Options{}.WithDefaults()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tt := range []struct {
		name string
		n    int
		cat  int
	}{
		{"one partition", 1, 0},
		{"catalog in the first of three", 3, 0},
		{"catalog in the last of four", 4, 3},
		{"not in the catalog", 3, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			one, parts := splitProduct(rng, tt.n, tt.cat)
			got := MergeProducts(parts, &o)
			want := *one
			if tt.n > 1 && tt.cat >= 0 {
				// Inventory: only the catalog partition's buyers count (see MergeProducts).
				want.Inventory = parts[tt.cat].Inventory
				if want.Inventory < one.Inventory {
					t.Errorf("catalog partition's inventory %d below the whole state's %d", want.Inventory, one.Inventory)
				}
			}
			for _, d := range []struct{ got, want Decayed }{{got.Popularity, one.Popularity}, {got.Trend, one.Trend}} {
				if d.got.T != d.want.T || math.Abs(d.got.V-d.want.V) > 1e-12*d.want.V {
					t.Errorf("decayed %+v, want %+v", d.got, d.want)
				}
			}
			want.Popularity, want.Trend = got.Popularity, got.Trend
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("merged:\n got %+v\nwant %+v", got, &want)
			}
			permutations(len(parts), func(p []int) {
				ps := make([]*Product, 0, len(p)+1)
				for _, j := range p {
					ps = append(ps, parts[j])
				}
				ps = append(ps, nil)
				if g := MergeProducts(ps, &o); !reflect.DeepEqual(g, got) || g.Popularity != got.Popularity {
					t.Fatalf("order %v:\n got %+v\nwant %+v", p, g, got)
				}
			})
		})
	}
}

func TestMergeProductsCatalogChoice(t *testing.T) {
	o := Options{}.WithDefaults()
	a := NewProduct("p")
	a.ApplyUpsert(&event.Product{ID: "p", Name: "old", Inventory: 5, HasInventory: true})
	a.Updated = 100
	b := NewProduct("p")
	b.ApplyUpsert(&event.Product{ID: "p", Name: "new", Inventory: 0, HasInventory: true})
	b.Updated = 200
	c := NewProduct("p") // events only: they know a category and a price the catalog does not
	c.Category, c.Price, c.Updated = "toys", 9.5, 150
	d := NewProduct("p")
	d.Category, d.Price, d.Updated = "games", 8, 150
	for _, tt := range []struct {
		name       string
		ps         []*Product
		wantName   string
		wantCat    string
		wantPrice  float64
		wantInv    int64
		wantInCat  bool
		wantUpdate int64
	}{
		{"newest catalog wins", []*Product{a, b, c}, "new", "toys", 9.5, 0, true, 200},
		{"events only", []*Product{c, d}, "", "games", 8, -1, false, 150},
		{"nothing", []*Product{nil}, "", "", 0, 0, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var first *Product
			permutations(len(tt.ps), func(p []int) {
				ps := make([]*Product, len(p))
				for i, j := range p {
					ps[i] = tt.ps[j]
				}
				got := MergeProducts(ps, &o)
				if first == nil {
					first = got
				} else if !reflect.DeepEqual(got, first) {
					t.Fatalf("order %v: %+v, want %+v", p, got, first)
				}
				if got == nil {
					if tt.wantUpdate != 0 {
						t.Fatal("nil")
					}
					return
				}
				if got.Name != tt.wantName || got.Category != tt.wantCat || got.Price != tt.wantPrice || got.Inventory != tt.wantInv ||
					got.InCatalog != tt.wantInCat || got.Updated != tt.wantUpdate {
					t.Errorf("got %+v", got)
				}
			})
		})
	}
	// Two catalog contributions of the same age: the choice is by content,
	// not by order.
	e := NewProduct("p")
	e.ApplyUpsert(&event.Product{ID: "p", Name: "other", Inventory: 3, HasInventory: true})
	e.Updated = b.Updated
	x, y := MergeProducts([]*Product{b, e}, &o), MergeProducts([]*Product{e, b}, &o)
	if !reflect.DeepEqual(x, y) {
		t.Errorf("tie: %+v vs %+v", x, y)
	}
}
