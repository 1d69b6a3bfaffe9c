package feature

import (
	"sort"

	"github.com/recohq/reco/internal/event"
)

// User is everything the stream keeps about one user. The stream processor
// is its only writer; readers get copies.
type User struct {
	ID          string
	Total       int64 // behaviour events of every type
	Views       int64
	Clicks      int64
	Carts       int64
	Removes     int64
	Purchases   int64
	Reviews     int64
	Impressions int64
	PriceSum    float64 // over events with a known price
	PriceN      int64
	First, Last int64 // event times, Unix ms
	Cats        map[string]*CatStat
	Recent      []Recent         // oldest first, at most Options.RecentItems
	Bought      map[string]int32 // product -> number of purchase events
	Session     string
}

// CatStat is a user's history with one category.
type CatStat struct {
	Count    int64   // events in the category
	Affinity Decayed // behaviour-weighted, time-decayed
}

// Recent is one recent interaction.
type Recent struct {
	Product string
	Type    event.Type
	Time    int64
	Session string
}

// Product is everything the stream keeps about one product: catalog fields
// and behaviour aggregates.
type Product struct {
	ID          string
	Category    string
	Name        string
	Price       float64 // < 0 unknown
	Inventory   int64   // < 0 unknown (treated as in stock)
	Margin      float64
	Promoted    bool
	Available   bool
	InCatalog   bool
	Attributes  map[string]string
	Views       int64 // view and click events (detail page visits)
	Clicks      int64
	Carts       int64
	Purchases   int64
	Reviews     int64
	RatingSum   int64
	Impressions int64
	Popularity  Decayed // behaviour-weighted, PopularityHalfLife
	Trend       Decayed // behaviour-weighted, TrendingHalfLife
	Updated     int64   // newest event time
}

// NewProduct returns an empty product with unknown price and stock.
func NewProduct(id string) *Product {
	return &Product{ID: id, Price: -1, Inventory: -1, Available: true}
}

// InStock reports whether the product may be recommended.
func (p *Product) InStock() bool {
	return p.Available && p.Inventory != 0
}

// ApplyUpsert merges a catalog upsert into p: fields the upsert does not
// name keep their values.
func (p *Product) ApplyUpsert(u *event.Product) {
	p.InCatalog = true
	if u.Category != "" {
		p.Category = u.Category
	}
	if u.Name != "" {
		p.Name = u.Name
	}
	if u.HasPrice {
		p.Price = u.Price
	}
	if u.HasInventory {
		p.Inventory = u.Inventory
	}
	if u.HasMargin {
		p.Margin = u.Margin
	}
	if u.HasPromoted {
		p.Promoted = u.Promoted
	}
	if u.HasAvailable {
		p.Available = u.Available
	}
	if u.Attributes != nil {
		p.Attributes = u.Attributes
	}
}

// ApplyEvent updates p with one behaviour event.
func (p *Product) ApplyEvent(e *event.Event, o *Options) {
	w := o.Weight(e.Type)
	switch e.Type {
	case event.View:
		p.Views++
	case event.Click:
		p.Views++
		p.Clicks++
	case event.AddToCart:
		p.Carts++
	case event.Purchase:
		p.Purchases++
		if p.Inventory > 0 {
			p.Inventory -= int64(e.Quantity)
			if p.Inventory < 0 {
				p.Inventory = 0
			}
		}
	case event.Review:
		p.Reviews++
		p.RatingSum += int64(e.Rating)
	}
	if p.Category == "" && e.Category != "" {
		p.Category = e.Category
	}
	if p.Price < 0 && e.Price >= 0 {
		p.Price = e.Price
	}
	if w > 0 {
		p.Popularity.Add(w, e.Time, Ms(o.PopularityHalfLife))
		p.Trend.Add(w, e.Time, Ms(o.TrendingHalfLife))
	}
	if e.Time > p.Updated {
		p.Updated = e.Time
	}
}

// ApplyEvent updates u with one behaviour event on a product of category cat
// (the event's own, else the catalog's) and price (the event's, else the
// catalog's; < 0 unknown). It returns the user's recent items from before
// this event that share its session, newest first, for co-visitation; the
// slice aliases u.Recent's backing array only until the next call.
func (u *User) ApplyEvent(e *event.Event, cat string, price float64, o *Options, sameSession []Recent) []Recent {
	u.Total++
	switch e.Type {
	case event.View:
		u.Views++
	case event.Click:
		u.Clicks++
	case event.AddToCart:
		u.Carts++
	case event.RemoveFromCart:
		u.Removes++
	case event.Purchase:
		u.Purchases++
		if u.Bought == nil {
			u.Bought = make(map[string]int32)
		}
		u.Bought[e.ProductID]++
	case event.Review:
		u.Reviews++
	}
	if price >= 0 && e.Type != event.Review && e.Type != event.RemoveFromCart {
		u.PriceSum += price
		u.PriceN++
	}
	if u.First == 0 || e.Time < u.First {
		u.First = e.Time
	}
	if e.Time > u.Last {
		u.Last = e.Time
	}
	if cat != "" {
		if u.Cats == nil {
			u.Cats = make(map[string]*CatStat, 4)
		}
		cs := u.Cats[cat]
		if cs == nil {
			cs = &CatStat{}
			u.Cats[cat] = cs
		}
		cs.Count++
		if w := o.Weight(e.Type); w > 0 {
			cs.Affinity.Add(w, e.Time, Ms(o.AffinityHalfLife))
		}
	}
	// Items seen earlier in the same session (or within the session gap).
	// Without session ids, a session ends where the user was idle longer
	// than SessionGap between two consecutive events.
	sameSession = sameSession[:0]
	gap := o.SessionGap.Milliseconds()
	prev := e.Time
	for i := len(u.Recent) - 1; i >= 0 && len(sameSession) < 10; i-- {
		r := u.Recent[i]
		if e.SessionID != "" && r.Session != "" {
			if r.Session != e.SessionID {
				break
			}
		} else if prev-r.Time > gap || r.Time-prev > gap {
			break
		}
		prev = r.Time
		if r.Product == e.ProductID {
			continue
		}
		sameSession = append(sameSession, r)
	}
	if e.Type != event.RemoveFromCart && e.Type != event.Review {
		// Recent may hold up to twice RecentItems, trimmed in one copy when
		// full, so that an event costs O(1), not a shift of the whole list;
		// Clone returns only the newest RecentItems.
		if len(u.Recent) >= 2*o.RecentItems {
			keep := o.RecentItems - 1
			copy(u.Recent, u.Recent[len(u.Recent)-keep:])
			clear(u.Recent[keep:])
			u.Recent = u.Recent[:keep]
		}
		u.Recent = append(u.Recent, Recent{Product: e.ProductID, Type: e.Type, Time: e.Time, Session: e.SessionID})
	}
	u.Session = e.SessionID
	return sameSession
}

// AvgPrice is the user's average price point, 0 when unknown.
func (u *User) AvgPrice() float64 {
	if u.PriceN == 0 {
		return 0
	}
	return u.PriceSum / float64(u.PriceN)
}

// FavoriteCategory is the category of most of the user's events (ties: the
// alphabetically first, so that it is deterministic).
func (u *User) FavoriteCategory() string {
	best, n := "", int64(-1)
	for c, s := range u.Cats {
		if s.Count > n || (s.Count == n && c < best) {
			best, n = c, s.Count
		}
	}
	return best
}

// CatAffinity is one category with its decayed affinity.
type CatAffinity struct {
	Category string
	Affinity float64
}

// TopCategories returns up to n categories by affinity decayed to now,
// strongest first.
func (u *User) TopCategories(n int, now int64, o *Options) []CatAffinity {
	out := make([]CatAffinity, 0, len(u.Cats))
	hl := Ms(o.AffinityHalfLife)
	for c, s := range u.Cats {
		out = append(out, CatAffinity{c, s.Affinity.At(now, hl)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Affinity != out[j].Affinity {
			return out[i].Affinity > out[j].Affinity
		}
		return out[i].Category < out[j].Category
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Clone returns a deep copy of u that a reader may keep, with the newest
// maxRecent recent items (all when maxRecent <= 0).
func (u *User) Clone(maxRecent int) *User {
	c := *u
	if u.Cats != nil {
		c.Cats = make(map[string]*CatStat, len(u.Cats))
		for k, v := range u.Cats {
			vv := *v
			c.Cats[k] = &vv
		}
	}
	recent := u.Recent
	if maxRecent > 0 && len(recent) > maxRecent {
		recent = recent[len(recent)-maxRecent:]
	}
	c.Recent = append([]Recent(nil), recent...)
	if u.Bought != nil {
		c.Bought = make(map[string]int32, len(u.Bought))
		for k, v := range u.Bought {
			c.Bought[k] = v
		}
	}
	return &c
}

// UserFeatures are the served user features, with the case study's names.
type UserFeatures struct {
	TotalEvents      int64   `json:"total_events"`
	Clicks           int64   `json:"clicks"`
	Purchases        int64   `json:"purchases"`
	AddToCarts       int64   `json:"add_to_carts"`
	PurchaseRate     float64 `json:"purchase_rate"`
	CategoriesViewed int64   `json:"categories_viewed"`
	FavoriteCategory string  `json:"favorite_category"`
	AvgPricePoint    float64 `json:"avg_price_point"`
	FirstEventTime   string  `json:"first_event_time"`
	LastEventTime    string  `json:"last_event_time"`
	PurchaseTier     string  `json:"purchase_tier"`
}

// ProductFeatures are the served product features.
type ProductFeatures struct {
	Category        string   `json:"category"`
	Price           *float64 `json:"price"`
	PopularityScore float64  `json:"popularity_score"`
	ConversionRate  float64  `json:"conversion_rate"`
	AvgRating       *float64 `json:"avg_rating"`
	InventoryLevel  *int64   `json:"inventory_level"`
}

// Features computes the served user features.
func (u *User) Features() UserFeatures {
	rate := Ratio(u.Purchases, u.Clicks)
	return UserFeatures{
		TotalEvents:      u.Total,
		Clicks:           u.Clicks,
		Purchases:        u.Purchases,
		AddToCarts:       u.Carts,
		PurchaseRate:     rate,
		CategoriesViewed: int64(len(u.Cats)),
		FavoriteCategory: u.FavoriteCategory(),
		AvgPricePoint:    u.AvgPrice(),
		FirstEventTime:   msTime(u.First),
		LastEventTime:    msTime(u.Last),
		PurchaseTier:     PurchaseTier(rate),
	}
}

// Features computes the served product features; popularity is decayed to now.
func (p *Product) Features(now int64, o *Options) ProductFeatures {
	f := ProductFeatures{
		Category:        p.Category,
		PopularityScore: p.Popularity.At(now, Ms(o.PopularityHalfLife)),
		ConversionRate:  Ratio(p.Purchases, p.Views),
	}
	if p.Price >= 0 {
		v := p.Price
		f.Price = &v
	}
	if p.Reviews > 0 {
		v := float64(p.RatingSum) / float64(p.Reviews)
		f.AvgRating = &v
	}
	if p.Inventory >= 0 {
		v := p.Inventory
		f.InventoryLevel = &v
	}
	return f
}
