package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
)

// RNG streams derived from the seed. Each consumer has its own so that the
// order in which goroutines run does not change what any of them draws.
const (
	streamWorld     = 1
	streamReservoir = 2
	streamWorker    = 1 << 20 // + worker index
)

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15^stream))
}

var categoryNames = []string{
	"kitchen", "garden", "shoes", "books", "toys", "electronics", "beauty", "sports",
	"outdoor", "pets", "baby", "office", "automotive", "music", "movies", "games",
	"jewelry", "watches", "bags", "furniture", "lighting", "bedding", "bath", "tools",
	"crafts", "grocery", "coffee", "tea", "wine", "health", "fitness", "cycling",
	"camping", "fishing", "photography", "computers", "phones", "audio", "tv", "appliances",
	"stationery", "art", "party", "travel", "luggage", "hats", "socks", "outerwear",
	"dresses", "menswear",
}

// product is one catalog entry; Appeal is its hidden base popularity.
type product struct {
	ID        string
	Name      string
	Brand     string
	Category  int
	Price     float64
	Inventory int
	Margin    float64
	Promoted  bool
	Appeal    float64
}

// category is a category, its median price and its products with their
// cumulative appeal, for sampling by appeal.
type category struct {
	Name     string
	Median   float64
	Products []int     // indexes into world.Products
	Cum      []float64 // cumulative Appeal over Products
}

// user is a simulated shopper with a hidden taste.
type user struct {
	ID         string    // "u00042", or the decimal form of a numeric id
	Numeric    bool      // sent as a JSON integer rather than a string
	Cats       []int     // preferred categories, strongest first
	Weights    []float64 // taste strength per Cats entry in (0, 1]; the first is 1
	PriceLevel float64   // preferred price as a multiplier on a category's median
	Activity   float64   // relative rate of visits
}

// jsonID is the user id as it goes on the wire.
func (u *user) jsonID() any {
	if u.Numeric {
		n, _ := strconv.ParseInt(u.ID, 10, 64)
		return n
	}
	return u.ID
}

// catWeight is u's taste for category c: 0 unless c is preferred.
func (u *user) catWeight(c int) float64 {
	for i, pc := range u.Cats {
		if pc == c {
			return u.Weights[i]
		}
	}
	return 0
}

// world is everything generated from the seed. It is read-only once built.
type world struct {
	Products   []product
	Categories []category
	Users      []user
	CatCum     []float64 // cumulative category size weights, for sampling categories
	byProduct  map[string]int
}

func newWorld(o Options) *world {
	r := newRand(o.Seed, streamWorld)
	w := &world{
		Products:   make([]product, o.Products),
		Categories: make([]category, o.Categories),
		Users:      make([]user, o.Users),
		byProduct:  make(map[string]int, o.Products),
	}

	// Categories: a name, a median price between 8 and 250, and a size
	// weight so that some categories are much bigger than others.
	sizes := make([]float64, len(w.Categories))
	for i := range w.Categories {
		name := fmt.Sprintf("cat-%02d", i)
		if i < len(categoryNames) {
			name = categoryNames[i]
		}
		median := math.Exp(math.Log(8) + r.Float64()*(math.Log(250)-math.Log(8)))
		w.Categories[i] = category{Name: name, Median: cents(median)}
		sizes[i] = math.Exp(r.NormFloat64() * 0.6)
	}
	w.CatCum = cumulative(sizes)

	// Products: long-tail appeal by a random popularity rank (Zipf-like),
	// price lognormal around the category median, stock, margin, promotion.
	rank := r.Perm(len(w.Products))
	for i := range w.Products {
		c := i
		if i >= len(w.Categories) { // every category gets at least one product
			c = pick(r, w.CatCum)
		}
		cat := &w.Categories[c]
		p := product{
			ID:       fmt.Sprintf("p%05d", i),
			Brand:    fmt.Sprintf("brand-%02d", r.IntN(40)),
			Category: c,
			Price:    cents(clamp(cat.Median*math.Exp(r.NormFloat64()*0.45), 0.99, 5000)),
			Margin:   math.Round((0.05+0.45*r.Float64())*100) / 100,
			Promoted: r.Float64() < 0.02,
			Appeal:   1 / math.Pow(float64(rank[i]+1), 0.8),
		}
		p.Name = fmt.Sprintf("%s %s #%d", p.Brand, cat.Name, i)
		switch u := r.Float64(); {
		case u < 0.03:
			p.Inventory = 0
		case u < 0.18:
			p.Inventory = 1 + r.IntN(5)
		default:
			p.Inventory = 10 + r.IntN(491)
		}
		w.Products[i] = p
		w.byProduct[p.ID] = i
		cat.Products = append(cat.Products, i)
	}
	for i := range w.Categories {
		cat := &w.Categories[i]
		appeal := make([]float64, len(cat.Products))
		for j, pi := range cat.Products {
			appeal[j] = w.Products[pi].Appeal
		}
		cat.Cum = cumulative(appeal)
	}

	// Users: one to three preferred categories, drawn like category sizes,
	// a preferred price level and a lognormal activity (some heavy users).
	for i := range w.Users {
		u := user{ID: fmt.Sprintf("u%05d", i)}
		if i%20 == 19 { // some clients send integer ids
			u.ID, u.Numeric = strconv.Itoa(100_000+i), true
		}
		n := 1
		switch x := r.Float64(); {
		case x < 0.45:
		case x < 0.80:
			n = 2
		default:
			n = 3
		}
		n = min(n, len(w.Categories))
		for len(u.Cats) < n {
			c := pick(r, w.CatCum)
			if u.catWeight(c) > 0 {
				continue
			}
			wt := 1.0
			if len(u.Cats) > 0 {
				wt = math.Round((0.3+0.6*r.Float64())*100) / 100
			}
			u.Cats = append(u.Cats, c)
			u.Weights = append(u.Weights, wt)
		}
		u.PriceLevel = math.Round(clamp(math.Exp(r.NormFloat64()*0.35), 0.4, 2.5)*100) / 100
		u.Activity = math.Exp(r.NormFloat64())
		w.Users[i] = u
	}
	return w
}

// priceFit is how close price is to the user's preferred price for a
// category with the given median, in (0, 1].
func priceFit(price, median, level float64) float64 {
	if price <= 0 || median <= 0 {
		return 0.5
	}
	d := math.Log(price / (median * level))
	return math.Exp(-d * d / (2 * 0.5 * 0.5))
}

// match is how well an item of category c at price fits u's
// hidden taste, in [0, 1]: 0 outside the preferred categories, 1 for the
// strongest category at exactly the preferred price.
func (w *world) match(u *user, c int, price float64) float64 {
	cw := u.catWeight(c)
	if cw == 0 {
		return 0
	}
	return cw * (0.4 + 0.6*priceFit(price, w.Categories[c].Median, u.PriceLevel))
}

// recClickProb is the probability that a user clicks a served item of the
// given match at position pos (0 first): 2% for no match, 25% for a perfect
// match at the top, lower further down the list.
func recClickProb(match float64, pos int) float64 {
	return (0.02 + 0.23*match) / (1 + 0.12*float64(pos))
}

func cumulative(ws []float64) []float64 {
	cum := make([]float64, len(ws))
	var s float64
	for i, x := range ws {
		s += x
		cum[i] = s
	}
	return cum
}

// pick draws an index with probability proportional to its weight, given
// cumulative weights.
func pick(r *rand.Rand, cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	i := sort.SearchFloat64s(cum, x)
	if i >= len(cum) {
		i = len(cum) - 1
	}
	return i
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func cents(x float64) float64 { return math.Round(x*100) / 100 }
