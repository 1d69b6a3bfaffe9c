package rank

import (
	"context"
	"math"
	"testing"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
)

const (
	now = int64(1_772_359_200_000)
	day = int64(86_400_000)
)

// col returns the index of a feature by name.
func col(t *testing.T, name string) int {
	t.Helper()
	for i, n := range FeatureNames {
		if n == name {
			return i
		}
	}
	t.Fatalf("no feature named %q", name)
	return -1
}

func item(id string, scores ...float32) candidate.Candidate {
	c := candidate.Candidate{ID: id, Source: candidate.SrcPopular}
	copy(c.Scores[:], scores)
	return c
}

func opts() *feature.Options {
	o := feature.Options{}.WithDefaults()
	return &o
}

func TestFeatureNames(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range FeatureNames {
		if seen[n] {
			t.Errorf("feature %q named twice", n)
		}
		seen[n] = true
	}
	s := &Slate{Items: []candidate.Candidate{item("a"), item("b")}, Products: make([]*feature.Product, 2), Opt: opts(), Now: now}
	BuildVectors(s)
	if len(s.Vectors) != 2 {
		t.Fatalf("%d vectors for 2 items", len(s.Vectors))
	}
	for i, v := range s.Vectors {
		if len(v) != len(FeatureNames) {
			t.Errorf("vector %d has %d values, FeatureNames %d", i, len(v), len(FeatureNames))
		}
	}
	// One source column per candidate source, in the same order.
	for k, src := range candidate.Sources {
		if got := FeatureNames[col(t, "src_co_visitation")+k]; got != "src_"+src {
			t.Errorf("source column %d is %q, want src_%s", k, got, src)
		}
	}
}

func TestBuildVectorsUnknowns(t *testing.T) {
	tests := []struct {
		name    string
		user    *feature.User
		product *feature.Product
		known   []string // columns that must not be NaN; every other must be
	}{
		{"unknown user and product", nil, nil, nil},
		{"unknown product", &feature.User{Total: 3, Clicks: 1}, nil,
			[]string{"user_total_events", "user_clicks", "user_purchases", "user_purchase_rate", "seen_before", "bought_before",
				"user_item_views", "user_item_carts", "user_item_purchases"}},
		{"unknown user", nil, &feature.Product{Category: "x", Price: -1, Inventory: -1},
			[]string{"product_popularity_score", "product_conversion_rate", "product_trend", "product_cart_rate",
				"product_purchases", "product_conversion_smoothed", "product_purchase_per_cart"}},
		{"product with price and update time, user without prices", &feature.User{Total: 1},
			&feature.Product{Category: "x", Price: 10, Updated: now - day},
			[]string{"user_total_events", "user_clicks", "user_purchases", "user_purchase_rate", "seen_before", "bought_before",
				"product_popularity_score", "product_conversion_rate", "product_trend", "product_cart_rate",
				"product_price", "recency_days", "category_affinity",
				"user_item_views", "user_item_carts", "user_item_purchases",
				"product_purchases", "product_conversion_smoothed", "product_purchase_per_cart"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Slate{User: tt.user, Items: []candidate.Candidate{item("a", 0.5, 0, 0.25, 0, 1)},
				Products: []*feature.Product{tt.product}, Opt: opts(), Now: now}
			BuildVectors(s)
			v := s.Vectors[0]
			known := map[string]bool{}
			for _, k := range tt.known {
				known[k] = true
			}
			for i, name := range FeatureNames {
				isNaN := math.IsNaN(float64(v[i]))
				switch {
				case len(name) > 4 && name[:4] == "src_":
					if isNaN {
						t.Errorf("%s is NaN: source scores are always known", name)
					}
				case known[name] && isNaN:
					t.Errorf("%s is NaN, want a value", name)
				case !known[name] && !isNaN:
					t.Errorf("%s = %v, want NaN (unknown)", name, v[i])
				}
			}
			for k, want := range []float32{0.5, 0, 0.25, 0, 1} {
				if got := v[col(t, "src_co_visitation")+k]; got != want {
					t.Errorf("%s = %v, want %v", FeatureNames[col(t, "src_co_visitation")+k], got, want)
				}
			}
		})
	}
}

func TestBuildVectorsValues(t *testing.T) {
	o := opts()
	user := &feature.User{Total: 10, Clicks: 4, Purchases: 1, PriceSum: 300, PriceN: 3,
		Recent: []feature.Recent{{Product: "a", Type: event.View, Time: now - 4*day}, {Product: "a", Type: event.AddToCart, Time: now - 3*day},
			{Product: "a", Type: event.View, Time: now - 3*day}, {Product: "b", Type: event.Purchase, Time: now - day}},
		Bought: map[string]int32{"b": 1}}
	pa := &feature.Product{ID: "a", Category: "hats", Price: 200, Views: 10, Purchases: 2, Carts: 5, Updated: now - 2*day,
		Popularity: feature.Decayed{V: 8, T: now - 7*day}, Trend: feature.Decayed{V: 2, T: now - day}}
	pb := &feature.Product{ID: "b", Category: "shoes", Price: 100, Updated: now}
	pc := &feature.Product{ID: "c", Category: "socks", Price: 0}
	s := &Slate{User: user, TopCats: []feature.CatAffinity{{Category: "shoes", Affinity: 2}, {Category: "hats", Affinity: 1}},
		Now: now, Items: []candidate.Candidate{item("a"), item("b", 0.7), item("c")}, Products: []*feature.Product{pa, pb, pc}, Opt: o, MaxPop: 8}
	BuildVectors(s)
	nan := math.NaN()
	want := []map[string]float64{
		{
			"user_total_events": 10, "user_clicks": 4, "user_purchases": 1, "user_purchase_rate": 0.25, "user_avg_price": 100,
			"product_popularity_score": 4, "product_conversion_rate": 0.2, "product_price": 200, "product_trend": 1,
			"product_cart_rate": 0.5, "recency_days": 2, "category_affinity": 0.5, "price_fit": PriceFit(200, 100),
			"seen_before": 1, "bought_before": 0, "src_co_visitation": 0,
			"user_item_views": 2, "user_item_carts": 1, "user_item_purchases": 0, "user_item_days": 3,
			"product_purchases": 2, "product_conversion_smoothed": 4.0 / 30, "product_purchase_per_cart": 3.0 / 7,
			"product_popularity_rel": 0.5, "product_trend_ratio": 0.25,
		},
		{
			"product_price": 100, "recency_days": 0, "category_affinity": 1, "price_fit": 1, "seen_before": 1, "bought_before": 1,
			"product_conversion_rate": 0, "product_popularity_score": 0, "src_co_visitation": 0.7,
			"user_item_views": 0, "user_item_carts": 0, "user_item_purchases": 1, "user_item_days": 1,
			"product_purchases": 0, "product_conversion_smoothed": 0.1, "product_purchase_per_cart": 0.5,
			"product_popularity_rel": 0, "product_trend_ratio": nan,
		},
		{
			"product_price": 0, "recency_days": nan, "category_affinity": 0, "price_fit": nan, "seen_before": 0, "bought_before": 0,
			"user_item_views": 0, "user_item_carts": 0, "user_item_purchases": 0, "user_item_days": nan,
		},
	}
	for i, w := range want {
		for name, wv := range w {
			got := float64(s.Vectors[i][col(t, name)])
			if math.IsNaN(wv) {
				if !math.IsNaN(got) {
					t.Errorf("item %d %s = %v, want NaN", i, name, got)
				}
				continue
			}
			if math.Abs(got-wv) > 1e-5*math.Max(1, math.Abs(wv)) {
				t.Errorf("item %d %s = %v, want %v", i, name, got, wv)
			}
		}
	}
	// Rows do not overlap: writing one leaves the next alone.
	s.Vectors[0][len(FeatureNames)-1] = 42
	if s.Vectors[1][0] == 42 {
		t.Error("vectors share memory")
	}
}

func TestPriceFit(t *testing.T) {
	for _, x := range []float64{0.5, 1, 19.99, 100, 1e6} {
		if got := PriceFit(x, x); math.Abs(got-1) > 1e-12 {
			t.Errorf("PriceFit(%v, %v) = %v, want 1", x, x, got)
		}
	}
	prev := 1.0
	for _, ratio := range []float64{1.1, 1.5, 2, 3, 5, 10} {
		up, down := PriceFit(100*ratio, 100), PriceFit(100/ratio, 100)
		if !(up < prev) || up <= 0 {
			t.Errorf("PriceFit at ratio %v = %v, not below %v", ratio, up, prev)
		}
		if math.Abs(up-down) > 1e-12 {
			t.Errorf("PriceFit not symmetric in the ratio: x%v %v, /%v %v", ratio, up, ratio, down)
		}
		prev = up
	}
	if f := PriceFit(200, 100); f < 0.45 || f > 0.55 {
		t.Errorf("PriceFit at 2x = %v, want about 0.5", f)
	}
}

func TestRulesRanking(t *testing.T) {
	user := &feature.User{Total: 20, Clicks: 5, PriceSum: 500, PriceN: 5} // usual price 100
	pop := feature.Decayed{V: 5, T: now}
	prod := func(id, cat string, price float64) *feature.Product {
		return &feature.Product{ID: id, Category: cat, Price: price, Inventory: -1, Available: true, Popularity: pop, Views: 10, Updated: now}
	}
	tests := []struct {
		name          string
		better, worse *feature.Product
		betterItem    candidate.Candidate
		worseItem     candidate.Candidate
	}{
		{"favourite category above another", prod("fav", "shoes", 100), prod("other", "books", 100), item("fav"), item("other")},
		{"right price above a far price", prod("right", "shoes", 100), prod("dear", "shoes", 400), item("right"), item("dear")},
		{"more popular above less", prod("hot", "books", 100),
			&feature.Product{ID: "cold", Category: "books", Price: 100, Popularity: feature.Decayed{V: 1, T: now}, Views: 10},
			item("hot"), item("cold")},
		{"co-visited above not", prod("cv", "books", 100), prod("plain", "books", 100), item("cv", 1), item("plain")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Slate{User: user, TopCats: []feature.CatAffinity{{Category: "shoes", Affinity: 3}, {Category: "books", Affinity: 0.3}},
				Now: now, MaxPop: 5, Opt: opts(),
				Items:    []candidate.Candidate{tt.worseItem, tt.betterItem},
				Products: []*feature.Product{tt.worse, tt.better}}
			if err := (Rules{}).Score(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			if len(s.Scores) != 2 {
				t.Fatalf("%d scores", len(s.Scores))
			}
			if !(s.Scores[1] > s.Scores[0]) {
				t.Errorf("%s scored %v, %s %v; want the first higher", tt.better.ID, s.Scores[1], tt.worse.ID, s.Scores[0])
			}
			for i, sc := range s.Scores {
				if !(sc > 0 && sc <= 1) {
					t.Errorf("score %d = %v, want within (0, 1]", i, sc)
				}
			}
		})
	}
}

func TestRulesUnknownUser(t *testing.T) {
	s := &Slate{Now: now, MaxPop: 10, Opt: opts(),
		Items:    []candidate.Candidate{item("a"), item("b"), item("c")},
		Products: []*feature.Product{{ID: "a", Price: 5, Popularity: feature.Decayed{V: 10, T: now}}, {ID: "b", Price: 5, Popularity: feature.Decayed{V: 1, T: now}}, nil}}
	if err := (Rules{}).Score(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if !(s.Scores[0] > s.Scores[1] && s.Scores[1] > s.Scores[2] && s.Scores[2] > 0) {
		t.Errorf("scores %v: want popularity order, unknown product last but positive", s.Scores)
	}
	if (Rules{}).Version() != RulesVersion || RulesVersion == "" {
		t.Error("Version")
	}
}
