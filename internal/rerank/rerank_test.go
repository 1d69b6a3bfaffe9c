package rerank

import (
	"math"
	"reflect"
	"testing"
)

func it(id, cat string, score float64) Item {
	return Item{ID: id, Category: cat, Score: score, InStock: true}
}

func ids(items []Item) []string {
	out := []string{}
	for _, x := range items {
		out = append(out, x.ID)
	}
	return out
}

func TestApply(t *testing.T) {
	purchased := it("bought", "a", 100)
	purchased.Purchased = true
	oos := it("oos", "a", 90)
	oos.InStock = false
	promo := it("promo", "b", 1.0)
	promo.Promoted = true
	margin := it("margin", "b", 1.0)
	margin.Margin = 0.5
	fbOOS := it("fb-oos", "z", 0)
	fbOOS.InStock = false
	fbBought := it("fb-bought", "z", 0)
	fbBought.Purchased = true

	fiveA := []Item{it("a1", "A", 10), it("a2", "A", 9), it("a3", "A", 8), it("a4", "A", 7), it("a5", "A", 6)}
	tests := []struct {
		name     string
		items    []Item
		fallback []Item
		n        int
		o        Options
		want     []string
	}{
		{"purchased and out of stock dropped", []Item{purchased, oos, it("x", "a", 1)}, nil, 5, Options{}, []string{"x"}},
		{"repeat purchase allowed", []Item{purchased, oos, it("x", "a", 1)}, nil, 5, Options{AllowPurchased: true}, []string{"bought", "x"}},
		{"out of stock never, even with AllowPurchased", []Item{oos}, nil, 5, Options{AllowPurchased: true}, []string{}},
		{"fallback obeys the same rules", []Item{it("x", "a", 1)}, []Item{fbOOS, fbBought, it("fb", "z", 0)}, 5, Options{},
			[]string{"x", "fb"}},
		{"ordered by score, ties by id", []Item{it("c", "", 1), it("b", "", 2), it("a", "", 1)}, nil, 5, Options{},
			[]string{"b", "a", "c"}},
		{"n respected", fiveA, nil, 2, Options{MaxPerCategory: -1}, []string{"a1", "a2"}},
		{"n zero", fiveA, []Item{it("f", "", 1)}, 0, Options{}, []string{}},
		{"cap per category", append(append([]Item{}, fiveA...), it("b1", "B", 1), it("b2", "B", 0.5)), nil, 5, Options{},
			[]string{"a1", "a2", "a3", "b1", "b2"}},
		{"custom cap", append(append([]Item{}, fiveA...), it("b1", "B", 1), it("b2", "B", 0.5)), nil, 5, Options{MaxPerCategory: 1},
			[]string{"a1", "b1", "a2", "a3", "a4"}},
		{"cap relaxed when short", append(append([]Item{}, fiveA...), it("b1", "B", 1)), nil, 5, Options{},
			[]string{"a1", "a2", "a3", "b1", "a4"}},
		{"cap relaxed after the fallback", fiveA, []Item{it("f1", "F", 0)}, 5, Options{},
			[]string{"a1", "a2", "a3", "f1", "a4"}},
		{"no cap when negative", append(append([]Item{}, fiveA...), it("b1", "B", 1)), nil, 5, Options{MaxPerCategory: -1},
			[]string{"a1", "a2", "a3", "a4", "a5"}},
		{"no category is not capped", []Item{it("n1", "", 5), it("n2", "", 4), it("n3", "", 3), it("n4", "", 2), it("b", "B", 1)}, nil, 4,
			Options{MaxPerCategory: 1}, []string{"n1", "n2", "n3", "n4"}},
		{"promoted boost reorders", []Item{it("plain", "a", 1.05), promo}, nil, 5, Options{}, []string{"promo", "plain"}},
		{"promoted boost too small to reorder", []Item{it("plain", "a", 1.2), promo}, nil, 5, Options{}, []string{"plain", "promo"}},
		{"custom promoted boost", []Item{it("plain", "a", 1.9), promo}, nil, 5, Options{PromotedBoost: 2}, []string{"promo", "plain"}},
		{"margin weight reorders", []Item{it("plain", "a", 1.05), margin}, nil, 5, Options{MarginWeight: 0.2}, []string{"margin", "plain"}},
		{"no margin weight: margin ignored", []Item{it("plain", "a", 1.05), margin}, nil, 5, Options{}, []string{"plain", "margin"}},
		{"fallback fills when short", []Item{it("x", "a", 1), it("y", "b", 0.5)}, []Item{it("f1", "c", 0), it("f2", "d", 0), it("f3", "e", 0)}, 4,
			Options{}, []string{"x", "y", "f1", "f2"}},
		{"fallback keeps its own order", nil, []Item{it("f2", "", 0.1), it("f1", "", 0.9)}, 4, Options{}, []string{"f2", "f1"}},
		{"fallback never duplicates", []Item{it("x", "a", 1), it("y", "b", 0.5)}, []Item{it("y", "b", 0), it("x", "a", 0), it("f", "c", 0), it("f", "c", 0)}, 10,
			Options{}, []string{"x", "y", "f"}},
		{"duplicates within items dropped", []Item{it("x", "a", 1), it("x", "a", 1), it("y", "a", 0.5)}, nil, 10, Options{}, []string{"x", "y"}},
		{"deferred item also in the fallback appears once", fiveA, []Item{it("a4", "A", 0), it("a5", "A", 0)}, 10, Options{},
			[]string{"a1", "a2", "a3", "a4", "a5"}},
		{"not enough anywhere", []Item{it("x", "a", 1)}, []Item{it("f", "b", 0)}, 10, Options{}, []string{"x", "f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := append([]Item(nil), tt.items...)
			fallback := append([]Item(nil), tt.fallback...)
			got := Apply(items, fallback, tt.n, tt.o)
			if g := ids(got); !reflect.DeepEqual(g, tt.want) {
				t.Errorf("Apply = %v, want %v", g, tt.want)
			}
			if len(got) > tt.n {
				t.Errorf("%d items for n = %d", len(got), tt.n)
			}
			seen := map[string]bool{}
			for _, x := range got {
				if seen[x.ID] {
					t.Errorf("%s served twice", x.ID)
				}
				seen[x.ID] = true
				if !x.InStock || (x.Purchased && !tt.o.AllowPurchased) {
					t.Errorf("ineligible item served: %+v", x)
				}
			}
			if !reflect.DeepEqual(items, tt.items) || !reflect.DeepEqual(fallback, tt.fallback) {
				t.Error("Apply modified its inputs")
			}
		})
	}
}

func TestApplyScoresAdjusted(t *testing.T) {
	p := it("p", "a", 2)
	p.Promoted, p.Margin = true, 0.5
	got := Apply([]Item{p, it("q", "a", 1)}, nil, 5, Options{PromotedBoost: 1.5, MarginWeight: 0.4})
	if len(got) != 2 || math.Abs(got[0].Score-2*1.5*1.2) > 1e-12 || got[1].Score != 1 {
		t.Errorf("scores = %+v, want p at 3.6 and q unchanged at 1", got)
	}
	if got[0].Index != p.Index || got[0].Reason != p.Reason || got[0].Source != p.Source {
		t.Error("fields other than Score changed")
	}
}
