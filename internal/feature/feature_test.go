package feature

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestDecayed(t *testing.T) {
	const hl = 1000.0
	type add struct {
		w float64
		t int64
	}
	tests := []struct {
		name  string
		adds  []add
		hl    float64
		at    int64
		want  float64
		wantT int64
	}{
		{"one add, read at its time", []add{{4, 5000}}, hl, 5000, 4, 5000},
		{"halves after one half-life", []add{{4, 5000}}, hl, 6000, 2, 5000},
		{"quarter after two half-lives", []add{{4, 5000}}, hl, 7000, 1, 5000},
		{"half a half-life", []add{{4, 5000}}, hl, 5500, 4 / math.Sqrt2, 5000},
		{"never grows when read before T", []add{{4, 5000}}, hl, 1000, 4, 5000},
		{"in order", []add{{1, 5000}, {1, 6000}}, hl, 6000, 1.5, 6000},
		{"out of order keeps the reference time", []add{{1, 6000}, {1, 5000}}, hl, 6000, 1.5, 6000},
		{"out of order, read later", []add{{1, 6000}, {1, 5000}}, hl, 7000, 0.75, 6000},
		{"same time sums", []add{{2, 5000}, {3, 5000}}, hl, 5000, 5, 5000},
		{"no half-life: no decay", []add{{1, 5000}, {1, 900000}}, 0, 10_000_000, 2, 900000},
		{"first add at time zero", []add{{1, 0}, {1, 1000}}, hl, 1000, 1.5, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decayed
			for _, a := range tt.adds {
				d.Add(a.w, a.t, tt.hl)
			}
			if got := d.At(tt.at, tt.hl); !near(got, tt.want) {
				t.Errorf("At(%d) = %v, want %v", tt.at, got, tt.want)
			}
			if d.T != tt.wantT {
				t.Errorf("T = %d, want %d", d.T, tt.wantT)
			}
		})
	}
}

// TestDecayedOrderIndependent adds the same weighted times in random orders:
// the value read afterwards must not depend on the order.
func TestDecayedOrderIndependent(t *testing.T) {
	const hl = 3600e3
	rng := rand.New(rand.NewPCG(1, 2))
	type add struct {
		w float64
		t int64
	}
	adds := make([]add, 50)
	want := 0.0
	now := int64(1_800_000_000_000)
	for i := range adds {
		adds[i] = add{float64(1 + rng.IntN(8)), now - rng.Int64N(10*3600e3)}
		want += adds[i].w * math.Exp2(-float64(now-adds[i].t)/hl)
	}
	for round := range 5 {
		rng.Shuffle(len(adds), func(i, j int) { adds[i], adds[j] = adds[j], adds[i] })
		var d Decayed
		for _, a := range adds {
			d.Add(a.w, a.t, hl)
		}
		if got := d.At(now, hl); math.Abs(got-want) > 1e-9*want {
			t.Errorf("round %d: At = %v, want %v", round, got, want)
		}
	}
}

func TestPurchaseTier(t *testing.T) {
	tests := []struct {
		rate float64
		want string
	}{
		{0, "low"},
		{0.05, "low"},
		{0.0500001, "medium"},
		{0.07, "medium"},
		{0.1, "medium"},
		{0.1000001, "high"},
		{0.5, "high"},
		{2, "high"},
	}
	for _, tt := range tests {
		if got := PurchaseTier(tt.rate); got != tt.want {
			t.Errorf("PurchaseTier(%v) = %q, want %q", tt.rate, got, tt.want)
		}
	}
}

func TestRatio(t *testing.T) {
	if got := Ratio(3, 0); got != 0 {
		t.Errorf("Ratio(3, 0) = %v", got)
	}
	if got := Ratio(1, 4); got != 0.25 {
		t.Errorf("Ratio(1, 4) = %v", got)
	}
}

const t0 = int64(1_772_359_200_000) // 2026-03-01T10:00:00Z

func ev(typ event.Type, product string, at int64) *event.Event {
	return &event.Event{Type: typ, UserID: "u", ProductID: product, Price: -1, Quantity: 1, Time: at}
}

// applied is one event as the stream applies it to a user: with the
// category and price it resolved.
type applied struct {
	e     *event.Event
	cat   string
	price float64
}

func TestUserApplyEventFeatures(t *testing.T) {
	o := Options{}.WithDefaults()
	min := int64(time.Minute / time.Millisecond)
	tests := []struct {
		name   string
		events []applied
		want   UserFeatures
		check  func(t *testing.T, u *User)
	}{
		{
			name:   "one view",
			events: []applied{{ev(event.View, "p1", t0), "shoes", 50}},
			want: UserFeatures{TotalEvents: 1, CategoriesViewed: 1, FavoriteCategory: "shoes", AvgPricePoint: 50,
				FirstEventTime: "2026-03-01T10:00:00Z", LastEventTime: "2026-03-01T10:00:00Z", PurchaseTier: "low"},
		},
		{
			name: "case study mix",
			events: []applied{
				{ev(event.View, "p1", t0), "shoes", 100},
				{ev(event.Click, "p1", t0+1*min), "shoes", 100},
				{ev(event.Click, "p2", t0+2*min), "hats", 20},
				{ev(event.Click, "p3", t0+3*min), "shoes", -1}, // unknown price: not averaged
				{ev(event.AddToCart, "p1", t0+4*min), "shoes", 100},
				{ev(event.Purchase, "p1", t0+5*min), "shoes", 100},
				{ev(event.Review, "p1", t0+6*min), "shoes", 100},       // reviews do not count in price
				{ev(event.RemoveFromCart, "p2", t0+7*min), "hats", 20}, // nor removals
				{ev(event.View, "p9", t0-60*min), "", 30},              // no category; earliest event
				{ev(event.View, "p4", t0+8*min), "socks", 10},
			},
			want: UserFeatures{TotalEvents: 10, Clicks: 3, Purchases: 1, AddToCarts: 1, PurchaseRate: 1.0 / 3,
				CategoriesViewed: 3, FavoriteCategory: "shoes", AvgPricePoint: (100 + 100 + 20 + 100 + 100 + 30 + 10) / 7.0,
				FirstEventTime: "2026-03-01T09:00:00Z", LastEventTime: "2026-03-01T10:08:00Z", PurchaseTier: "high"},
			check: func(t *testing.T, u *User) {
				if u.Views != 3 || u.Removes != 1 || u.Reviews != 1 || u.Carts != 1 {
					t.Errorf("views %d removes %d reviews %d carts %d", u.Views, u.Removes, u.Reviews, u.Carts)
				}
				if !reflect.DeepEqual(u.Bought, map[string]int32{"p1": 1}) {
					t.Errorf("Bought = %v", u.Bought)
				}
				if u.Cats["shoes"].Count != 6 || u.Cats["hats"].Count != 2 || u.Cats["socks"].Count != 1 {
					t.Errorf("category counts: shoes %d hats %d socks %d", u.Cats["shoes"].Count, u.Cats["hats"].Count, u.Cats["socks"].Count)
				}
			},
		},
		{
			name: "purchases without clicks: rate 0",
			events: []applied{
				{ev(event.Purchase, "p1", t0), "a", -1},
				{ev(event.Purchase, "p1", t0+1), "a", -1},
			},
			want: UserFeatures{TotalEvents: 2, Purchases: 2, CategoriesViewed: 1, FavoriteCategory: "a",
				FirstEventTime: "2026-03-01T10:00:00Z", LastEventTime: "2026-03-01T10:00:00.001Z", PurchaseTier: "low"},
			check: func(t *testing.T, u *User) {
				if u.Bought["p1"] != 2 {
					t.Errorf("Bought[p1] = %d, want 2", u.Bought["p1"])
				}
			},
		},
		{
			name: "favourite is the most frequent, not the latest",
			events: []applied{
				{ev(event.View, "p1", t0), "books", -1},
				{ev(event.View, "p2", t0+1), "books", -1},
				{ev(event.Purchase, "p3", t0+2), "toys", -1},
			},
			want: UserFeatures{TotalEvents: 3, Purchases: 1, CategoriesViewed: 2, FavoriteCategory: "books",
				FirstEventTime: "2026-03-01T10:00:00Z", LastEventTime: "2026-03-01T10:00:00.002Z", PurchaseTier: "low"},
		},
		{
			name: "favourite tie: alphabetically first",
			events: []applied{
				{ev(event.View, "p1", t0), "zebra", -1},
				{ev(event.View, "p2", t0), "apple", -1},
				{ev(event.View, "p3", t0), "mango", -1},
			},
			want: UserFeatures{TotalEvents: 3, CategoriesViewed: 3, FavoriteCategory: "apple",
				FirstEventTime: "2026-03-01T10:00:00Z", LastEventTime: "2026-03-01T10:00:00Z", PurchaseTier: "low"},
		},
		{
			name: "purchase rate at the medium boundary",
			events: func() []applied {
				var a []applied
				for i := range 20 {
					a = append(a, applied{ev(event.Click, "p", t0+int64(i)), "", -1})
				}
				a = append(a, applied{ev(event.Purchase, "p", t0+20), "", -1}, applied{ev(event.Purchase, "p", t0+21), "", -1})
				return a
			}(),
			want: UserFeatures{TotalEvents: 22, Clicks: 20, Purchases: 2, PurchaseRate: 0.1,
				FirstEventTime: "2026-03-01T10:00:00Z", LastEventTime: "2026-03-01T10:00:00.021Z", PurchaseTier: "medium"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &User{ID: "u"}
			for _, a := range tt.events {
				u.ApplyEvent(a.e, a.cat, a.price, &o, nil)
			}
			got := u.Features()
			if !near(got.PurchaseRate, tt.want.PurchaseRate) || !near(got.AvgPricePoint, tt.want.AvgPricePoint) {
				t.Errorf("purchase_rate %v avg_price_point %v; want %v %v", got.PurchaseRate, got.AvgPricePoint,
					tt.want.PurchaseRate, tt.want.AvgPricePoint)
			}
			got.PurchaseRate, got.AvgPricePoint = tt.want.PurchaseRate, tt.want.AvgPricePoint
			if got != tt.want {
				t.Errorf("Features() =\n%+v\nwant\n%+v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, u)
			}
		})
	}
}

func TestUserEmptyFeatures(t *testing.T) {
	got := (&User{ID: "u"}).Features()
	if want := (UserFeatures{PurchaseTier: "low"}); got != want {
		t.Errorf("Features() of a new user = %+v, want %+v", got, want)
	}
}

func TestUserAffinity(t *testing.T) {
	o := Options{AffinityHalfLife: time.Hour}.WithDefaults()
	u := &User{ID: "u"}
	u.ApplyEvent(ev(event.Purchase, "p1", t0), "a", -1, &o, nil)       // weight 8
	u.ApplyEvent(ev(event.View, "p2", t0), "b", -1, &o, nil)           // weight 1
	u.ApplyEvent(ev(event.RemoveFromCart, "p3", t0), "c", -1, &o, nil) // weight 0
	u.ApplyEvent(ev(event.View, "p4", t0-3600e3), "b", -1, &o, nil)    // 1, an hour older
	top := u.TopCategories(5, t0+3600e3, &o)
	want := []CatAffinity{{"a", 4}, {"b", 0.75}, {"c", 0}}
	if len(top) != len(want) {
		t.Fatalf("TopCategories = %+v, want %+v", top, want)
	}
	for i := range want {
		if top[i].Category != want[i].Category || !near(top[i].Affinity, want[i].Affinity) {
			t.Errorf("TopCategories[%d] = %+v, want %+v", i, top[i], want[i])
		}
	}
	if top := u.TopCategories(1, t0, &o); len(top) != 1 || top[0].Category != "a" {
		t.Errorf("TopCategories(1) = %+v", top)
	}
}

func TestUserRecentBounded(t *testing.T) {
	o := Options{RecentItems: 3}.WithDefaults()
	u := &User{ID: "u"}
	ids := []string{"p1", "p2", "p3", "p4", "p5"}
	for i, id := range ids {
		u.ApplyEvent(ev(event.View, id, t0+int64(i)), "", -1, &o, nil)
	}
	// Reviews and removals are not interactions worth remembering.
	u.ApplyEvent(&event.Event{Type: event.Review, ProductID: "r", Rating: 5, Time: t0 + 10}, "", -1, &o, nil)
	u.ApplyEvent(ev(event.RemoveFromCart, "x", t0+11), "", -1, &o, nil)
	var got []string
	for _, r := range u.Clone(o.RecentItems).Recent {
		got = append(got, r.Product)
	}
	if want := []string{"p3", "p4", "p5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Recent = %v, want %v (oldest first)", got, want)
	}
	if len(u.Recent) > 2*3 {
		t.Errorf("len(Recent) = %d > 2 x RecentItems", len(u.Recent))
	}

	d := Options{}.WithDefaults()
	u = &User{ID: "u"}
	for i := range 150 {
		u.ApplyEvent(ev(event.Click, "p", t0+int64(i)), "", -1, &d, nil)
	}
	if got := u.Clone(d.RecentItems).Recent; len(got) != 100 || got[99] != u.Recent[len(u.Recent)-1] {
		t.Errorf("default RecentItems: a copy has %d recent items, want the newest 100", len(got))
	}
	if len(u.Recent) > 2*d.RecentItems {
		t.Errorf("the state keeps %d recent items, more than twice RecentItems", len(u.Recent))
	}
}

func TestUserSameSession(t *testing.T) {
	o := Options{}.WithDefaults()
	min := int64(60_000)
	sev := func(typ event.Type, product, session string, at int64) *event.Event {
		e := ev(typ, product, at)
		e.SessionID = session
		return e
	}
	tests := []struct {
		name   string
		before []*event.Event
		e      *event.Event
		want   []string // products, newest first
	}{
		{"first event", nil, sev(event.View, "p1", "s1", t0), nil},
		{"same session id, newest first",
			[]*event.Event{sev(event.View, "p1", "s1", t0), sev(event.View, "p2", "s1", t0+min), sev(event.Click, "p3", "s1", t0+2*min)},
			sev(event.View, "p4", "s1", t0+3*min), []string{"p3", "p2", "p1"}},
		{"same session id ignores the time gap",
			[]*event.Event{sev(event.View, "p1", "s1", t0)},
			sev(event.View, "p2", "s1", t0+5*60*min), []string{"p1"}},
		{"different session id breaks it",
			[]*event.Event{sev(event.View, "p1", "s1", t0), sev(event.View, "p2", "s2", t0+min)},
			sev(event.View, "p3", "s2", t0+2*min), []string{"p2"}},
		{"new session: nothing",
			[]*event.Event{sev(event.View, "p1", "s1", t0)},
			sev(event.View, "p2", "s2", t0+min), nil},
		{"the event's own product is skipped",
			[]*event.Event{sev(event.View, "p1", "s1", t0), sev(event.View, "p2", "s1", t0+1), sev(event.View, "p1", "s1", t0+2)},
			sev(event.Purchase, "p1", "s1", t0+3), []string{"p2"}},
		{"no session ids: within 30 minutes",
			[]*event.Event{ev(event.View, "p1", t0), ev(event.View, "p2", t0+10*min)},
			ev(event.View, "p3", t0+20*min), []string{"p2", "p1"}},
		{"no session ids: never idle 30 minutes",
			[]*event.Event{ev(event.View, "p1", t0), ev(event.View, "p2", t0+20*min)},
			ev(event.View, "p3", t0+40*min), []string{"p2", "p1"}},
		{"no session ids: exactly the gap still counts",
			[]*event.Event{ev(event.View, "p1", t0)},
			ev(event.View, "p2", t0+30*min), []string{"p1"}},
		{"no session ids: a gap over 30 minutes breaks it",
			[]*event.Event{ev(event.View, "p1", t0), ev(event.View, "p2", t0+31*min)},
			ev(event.View, "p3", t0+45*min), []string{"p2"}},
		{"no session ids: gap before the newest",
			[]*event.Event{ev(event.View, "p1", t0)},
			ev(event.View, "p2", t0+31*min), nil},
		{"out-of-order event far in the past is outside the gap",
			[]*event.Event{ev(event.View, "p1", t0+60*min)},
			ev(event.View, "p2", t0), nil},
		{"session id on one side only falls back to the gap",
			[]*event.Event{ev(event.View, "p1", t0), sev(event.View, "p2", "s1", t0+40*min)},
			ev(event.View, "p3", t0+45*min), []string{"p2"}},
		{"at most ten",
			func() []*event.Event {
				var es []*event.Event
				for i := range 15 {
					es = append(es, sev(event.View, string(rune('a'+i)), "s", t0+int64(i)))
				}
				return es
			}(),
			sev(event.View, "z", "s", t0+100), []string{"o", "n", "m", "l", "k", "j", "i", "h", "g", "f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &User{ID: "u"}
			for _, e := range tt.before {
				u.ApplyEvent(e, "", -1, &o, nil)
			}
			got := u.ApplyEvent(tt.e, "", -1, &o, nil)
			var ids []string
			for _, r := range got {
				ids = append(ids, r.Product)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("same-session = %v, want %v", ids, tt.want)
			}
			if n := len(u.Recent); n == 0 || u.Recent[n-1].Product != tt.e.ProductID {
				t.Errorf("the event itself was not recorded last in Recent: %+v", u.Recent)
			}
			if u.Session != tt.e.SessionID {
				t.Errorf("Session = %q, want %q", u.Session, tt.e.SessionID)
			}
		})
	}
}

func TestUserCloneIsDeep(t *testing.T) {
	o := Options{}.WithDefaults()
	u := &User{ID: "u"}
	u.ApplyEvent(ev(event.Purchase, "p1", t0), "a", 5, &o, nil)
	c := u.Clone(0)
	if !reflect.DeepEqual(c, u) {
		t.Fatalf("Clone differs: %+v vs %+v", c, u)
	}
	u.ApplyEvent(ev(event.Purchase, "p1", t0+1), "a", 5, &o, nil)
	if c.Bought["p1"] != 1 || c.Cats["a"].Count != 1 || len(c.Recent) != 1 || c.Purchases != 1 {
		t.Errorf("Clone shares state with the original: %+v", c)
	}
}

func TestProductApplyEvent(t *testing.T) {
	o := Options{}.WithDefaults()
	qty := func(e *event.Event, q int32) *event.Event { e.Quantity = q; return e }
	tests := []struct {
		name      string
		inventory int64
		events    []*event.Event
		want      int64
	}{
		{"purchase decrements", 5, []*event.Event{qty(ev(event.Purchase, "p", t0), 2)}, 3},
		{"two purchases", 5, []*event.Event{ev(event.Purchase, "p", t0), ev(event.Purchase, "p", t0+1)}, 3},
		{"never below zero", 3, []*event.Event{qty(ev(event.Purchase, "p", t0), 10)}, 0},
		{"zero stays zero", 0, []*event.Event{ev(event.Purchase, "p", t0)}, 0},
		{"unknown stays unknown", -1, []*event.Event{qty(ev(event.Purchase, "p", t0), 4)}, -1},
		{"other events leave stock alone", 5, []*event.Event{ev(event.View, "p", t0), ev(event.AddToCart, "p", t0), ev(event.Click, "p", t0)}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProduct("p")
			p.Inventory = tt.inventory
			for _, e := range tt.events {
				p.ApplyEvent(e, &o)
			}
			if p.Inventory != tt.want {
				t.Errorf("Inventory = %d, want %d", p.Inventory, tt.want)
			}
		})
	}
}

func TestProductApplyEventCounters(t *testing.T) {
	o := Options{PopularityHalfLife: time.Hour, TrendingHalfLife: time.Minute}.WithDefaults()
	p := NewProduct("p")
	withCat := ev(event.View, "p", t0)
	withCat.Category, withCat.Price = "shoes", 30
	review := ev(event.Review, "p", t0+2)
	review.Rating = 4
	review2 := ev(event.Review, "p", t0+3)
	review2.Rating = 5
	other := ev(event.Click, "p", t0-5)
	other.Category, other.Price = "hats", 99 // category and price already known
	for _, e := range []*event.Event{withCat, ev(event.Click, "p", t0+1), ev(event.AddToCart, "p", t0+1),
		ev(event.Purchase, "p", t0+1), review, review2, other, ev(event.RemoveFromCart, "p", t0+1)} {
		p.ApplyEvent(e, &o)
	}
	if p.Views != 3 || p.Clicks != 2 || p.Carts != 1 || p.Purchases != 1 || p.Reviews != 2 || p.RatingSum != 9 {
		t.Errorf("views %d clicks %d carts %d purchases %d reviews %d ratings %d", p.Views, p.Clicks, p.Carts, p.Purchases, p.Reviews, p.RatingSum)
	}
	if p.Category != "shoes" || p.Price != 30 {
		t.Errorf("category %q price %v, want the first known: shoes 30", p.Category, p.Price)
	}
	if p.Updated != t0+3 {
		t.Errorf("Updated = %d, want the newest event time %d", p.Updated, t0+3)
	}
	// view 1 + click 2 + cart 4 + purchase 8 + reviews 2x2 + click 2 (older) + remove 0, all within ms.
	if pop := p.Popularity.At(t0+3, Ms(o.PopularityHalfLife)); math.Abs(pop-21) > 0.01 {
		t.Errorf("popularity = %v, want about 21", pop)
	}
	f := p.Features(t0+3+3600e3, &o)
	if f.Category != "shoes" || f.Price == nil || *f.Price != 30 || f.AvgRating == nil || *f.AvgRating != 4.5 ||
		f.InventoryLevel != nil || !near(f.ConversionRate, 1.0/3) || math.Abs(f.PopularityScore-10.5) > 0.01 {
		t.Errorf("Features = %+v (price %v rating %v)", f, f.Price, f.AvgRating)
	}
	if f := NewProduct("x").Features(t0, &o); f.Price != nil || f.AvgRating != nil || f.InventoryLevel != nil || f.ConversionRate != 0 {
		t.Errorf("Features of a new product = %+v", f)
	}
}

func TestProductApplyUpsert(t *testing.T) {
	full := func() *Product {
		return &Product{ID: "p", Category: "shoes", Name: "Runner", Price: 50, Inventory: 7, Margin: 0.2, Promoted: true,
			Available: true, InCatalog: true, Attributes: map[string]string{"color": "red"}, Views: 9, Purchases: 2}
	}
	tests := []struct {
		name string
		u    event.Product
		want func(p *Product)
	}{
		{"nothing named keeps everything", event.Product{ID: "p"}, func(p *Product) {}},
		{"values without Has flags are ignored", event.Product{ID: "p", Price: 1, Inventory: 1, Margin: 1}, func(p *Product) {}},
		{"price only", event.Product{ID: "p", Price: 60, HasPrice: true}, func(p *Product) { p.Price = 60 }},
		{"price zero", event.Product{ID: "p", HasPrice: true}, func(p *Product) { p.Price = 0 }},
		{"inventory zero", event.Product{ID: "p", HasInventory: true}, func(p *Product) { p.Inventory = 0 }},
		{"margin", event.Product{ID: "p", Margin: 0.5, HasMargin: true}, func(p *Product) { p.Margin = 0.5 }},
		{"unpromote", event.Product{ID: "p", HasPromoted: true}, func(p *Product) { p.Promoted = false }},
		{"unavailable", event.Product{ID: "p", HasAvailable: true}, func(p *Product) { p.Available = false }},
		{"category and name", event.Product{ID: "p", Category: "boots", Name: "Hiker"}, func(p *Product) { p.Category, p.Name = "boots", "Hiker" }},
		{"attributes replaced", event.Product{ID: "p", Attributes: map[string]string{"size": "9"}},
			func(p *Product) { p.Attributes = map[string]string{"size": "9"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := full()
			p.ApplyUpsert(&tt.u)
			want := full()
			tt.want(want)
			if !reflect.DeepEqual(p, want) {
				t.Errorf("after upsert\n%+v\nwant\n%+v", p, want)
			}
		})
	}
	p := NewProduct("n")
	p.ApplyUpsert(&event.Product{ID: "n", Category: "c"})
	if !p.InCatalog || p.Price != -1 || p.Inventory != -1 || !p.Available || !p.InStock() {
		t.Errorf("new product after a category-only upsert: %+v", p)
	}
}

func TestProductInStock(t *testing.T) {
	tests := []struct {
		inv   int64
		avail bool
		want  bool
	}{{-1, true, true}, {0, true, false}, {3, true, true}, {3, false, false}, {-1, false, false}}
	for _, tt := range tests {
		p := &Product{Inventory: tt.inv, Available: tt.avail}
		if got := p.InStock(); got != tt.want {
			t.Errorf("InStock(inventory %d, available %v) = %v", tt.inv, tt.avail, got)
		}
	}
}
