package eval

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/recohq/reco/internal/ease"
	"github.com/recohq/reco/internal/event"
)

// Strategy scores every item for a user. Fit sees only the dataset's
// training data; Score may be called concurrently once Fit returns and
// writes one score per item into out (zeroed by the caller; higher is
// better; equal scores are ties).
type Strategy interface {
	Name() string
	Fit(ctx context.Context, ds *Dataset) error
	Score(u int32, out []float64)
}

// Params are the strategies' hyperparameters; zero fields take the
// defaults. Tune them on the validation split only (--validation).
type Params struct {
	PopWindow   time.Duration // recent popularity window; 0 means all time
	EASELambda  float64       // ease, ease_pop; 0 means 500
	SimLambda   float64       // full: the similar-items table's EASE lambda; 0 means EASELambda
	EASEItems   int           // items EASE models (the most interacted); 0 means 6,000
	EASEPop     float64       // weight of recent popularity blended into EASE (ease_pop)
	ConvPrior   float64       // pseudo-views smoothing an item's conversion rate; 0 means 20
	CartBoost   float64       // history: multiplier bonus of a carted item; 0 means 1
	Weights     [3]float32    // view, cart, buy weights in EASE and co-visitation; zero means 1, 3, 5
	GBDTRounds  int           // full: boosting rounds (0: 150, early-stopped)
	GBDTDepth   int           // full: tree depth (0: 6)
	GBDTEta     float64       // full: learning rate (0: 0.1)
	GBDTMinHess float64       // full: min_child_weight (0: 1)
	Threads     int
	HistoryPool int           // hybrid: EASE candidates added to the history; 0 means 30
	Neighbors   int           // full: neighbours per item in the similar-items table; 0 means 50
	Queries     int           // full: GBDT training queries; 0 means 15,000
	Negatives   int           // full: negatives kept per training query; 0 means 100
	Objective   string        // full: GBDT objective; "" means binary:logistic
	Snapshot    time.Duration // full: training queries at snapshots this far apart (0: at baskets)
	Horizon     time.Duration // full: label window of a snapshot query; 0 means Snapshot
	MaxPerCat   int           // full: rerank's cap per category; 0 means serving's (3), negative none
	TrainSpan   time.Duration // full: training queries only this far before the split (0 or negative: all)
	SimEvery    time.Duration // full: similar tables of training queries rebuilt this often (0: TrainSpan)
	Seed        uint64        // full: varies the training sample and the GBDT (0: default seeds)
	RecentItems int           // full: feature.Options.RecentItems (0: serving's default)
}

func (p Params) withDefaults() Params {
	if p.EASELambda == 0 {
		p.EASELambda = 500
	}
	if p.EASEItems == 0 {
		p.EASEItems = 6000
	}
	if p.ConvPrior == 0 {
		p.ConvPrior = 20
	}
	if p.CartBoost == 0 {
		p.CartBoost = 1
	}
	if p.Weights == [3]float32{} {
		p.Weights = [3]float32{1, 3, 5}
	}
	if p.HistoryPool == 0 {
		p.HistoryPool = 30
	}
	if p.Neighbors == 0 {
		p.Neighbors = 50
	}
	return p
}

func (p Params) weight(t event.Type) float32 {
	switch t {
	case event.View, event.Click:
		return p.Weights[0]
	case event.AddToCart:
		return p.Weights[1]
	case event.Purchase:
		return p.Weights[2]
	}
	return 0
}

// itemStats are per-item training aggregates.
type itemStats struct {
	views, carts, buys []float64
	pop                []float64 // purchases (all time, or in the window)
	popNorm            []float64 // pop / max pop
	conv               []float64 // smoothed buys/views
	n                  int
}

func newItemStats(ds *Dataset, p Params) *itemStats {
	n := len(ds.Items)
	s := &itemStats{views: make([]float64, n), carts: make([]float64, n), buys: make([]float64, n), pop: make([]float64, n),
		popNorm: make([]float64, n), conv: make([]float64, n), n: n}
	from := int64(math.MinInt64)
	if p.PopWindow > 0 {
		from = ds.Split.Add(-p.PopWindow).UnixMilli()
	}
	for _, x := range ds.Train {
		switch x.Type {
		case event.View, event.Click:
			s.views[x.Item]++
		case event.AddToCart:
			s.carts[x.Item]++
		case event.Purchase:
			s.buys[x.Item]++
			if x.Time >= from {
				s.pop[x.Item]++
			}
		}
	}
	var maxPop, sb, sv float64
	for i := range s.pop {
		maxPop = max(maxPop, s.pop[i])
		sb += s.buys[i]
		sv += s.views[i]
	}
	prior := 0.0
	if sv > 0 {
		prior = sb / sv
	}
	for i := range s.pop {
		if maxPop > 0 {
			s.popNorm[i] = s.pop[i] / maxPop
		}
		s.conv[i] = (s.buys[i] + p.ConvPrior*prior) / (s.views[i] + p.ConvPrior)
	}
	return s
}

// Popular: the most purchased items (in PopWindow before the split when set).
type Popular struct {
	P     Params
	Label string
	st    *itemStats
}

func (s *Popular) Name() string {
	if s.Label != "" {
		return s.Label
	}
	return "popular"
}
func (s *Popular) Fit(_ context.Context, ds *Dataset) error {
	s.st = newItemStats(ds, s.P.withDefaults())
	return nil
}
func (s *Popular) Score(_ int32, out []float64) { copy(out, s.st.pop) }

// CategoryPopular: the most purchased items of the user's most frequent
// categories first (by the user's share of events in each), then the
// rest by popularity.
type CategoryPopular struct {
	P  Params
	ds *Dataset
	st *itemStats
}

func (s *CategoryPopular) Name() string { return "category_popular" }
func (s *CategoryPopular) Fit(_ context.Context, ds *Dataset) error {
	s.ds, s.st = ds, newItemStats(ds, s.P.withDefaults())
	return nil
}
func (s *CategoryPopular) Score(u int32, out []float64) {
	share := map[string]float64{}
	total := 0.0
	for _, h := range s.ds.History[u] {
		if c := s.ds.Cat[h.Item]; c != "" {
			w := float64(h.Views + h.Carts + h.BuyEvents)
			share[c] += w
			total += w
		}
	}
	for i := range out {
		v := s.st.popNorm[i]
		if total > 0 {
			v *= 1 + 10*share[s.ds.Cat[i]]/total
		}
		out[i] = v
	}
}

// CoVisit is item-to-item co-occurrence over users (cosine of the
// behaviour-weighted user vectors): a user's score for j is the sum over
// the user's items i of w(u,i) x sim(i, j).
type CoVisit struct {
	P   Params
	ds  *Dataset
	sim []float32 // dense n x n
	n   int
}

func (s *CoVisit) Name() string { return "covisit" }
func (s *CoVisit) Fit(ctx context.Context, ds *Dataset) error {
	p := s.P.withDefaults()
	s.ds = ds
	n := len(ds.Items)
	s.n = n
	rows := userRows(ds, p, nil)
	g := ease.Gram(n, rows, p.Threads)
	s.sim = make([]float32, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j && g[i*n+j] != 0 {
				s.sim[i*n+j] = float32(g[i*n+j] / math.Sqrt(g[i*n+i]*g[j*n+j]))
			}
		}
	}
	return ctx.Err()
}
func (s *CoVisit) Score(u int32, out []float64) {
	p := s.P.withDefaults()
	for _, h := range s.ds.History[u] {
		w := float64(p.Weights[0]*float32(h.Views) + p.Weights[1]*float32(h.Carts) + p.Weights[2]*float32(h.BuyEvents))
		w = math.Log1p(w)
		row := s.sim[int(h.Item)*s.n : (int(h.Item)+1)*s.n]
		for j, v := range row {
			out[j] += w * float64(v)
		}
	}
}

// userRows builds the users' rows of X (behaviour-weighted, log-damped),
// over the items in keep (index remapped) or all items when keep is nil.
func userRows(ds *Dataset, p Params, keep map[int32]int32) [][]ease.Entry {
	rows := make([][]ease.Entry, len(ds.Users))
	for u, hs := range ds.History {
		for _, h := range hs {
			it := h.Item
			if keep != nil {
				k, ok := keep[it]
				if !ok {
					continue
				}
				it = k
			}
			w := p.Weights[0]*float32(h.Views) + p.Weights[1]*float32(h.Carts) + p.Weights[2]*float32(h.BuyEvents)
			if w > 0 {
				rows[u] = append(rows[u], ease.Entry{Item: it, Value: float32(math.Log1p(float64(w)))})
			}
		}
	}
	return rows
}

// History ranks the user's own items: on a data set with views and carts,
// the viewed or carted items by the item's smoothed conversion rate
// (buys/views with ConvPrior pseudo-views at the global rate), carted ones
// multiplied by 1 + CartBoost; on purchases only, buy again: the user's
// purchase count, then recency. Other items follow by popularity.
type History struct {
	P  Params
	ds *Dataset
	st *itemStats
}

func (s *History) Name() string { return "history" }
func (s *History) Fit(_ context.Context, ds *Dataset) error {
	s.ds, s.st = ds, newItemStats(ds, s.P.withDefaults())
	return nil
}
func (s *History) Score(u int32, out []float64) {
	p := s.P.withDefaults()
	for i := range out {
		out[i] = 1e-3 * s.st.popNorm[i]
	}
	split := s.ds.Split.UnixMilli()
	for _, h := range s.ds.History[u] {
		if h.Views+h.Carts > 0 {
			v := s.st.conv[h.Item]
			if h.Carts > 0 {
				v *= 1 + p.CartBoost
			}
			out[h.Item] += 1 + v
		} else if h.BuyEvents > 0 {
			days := float64(split-h.LastBuy) / 86400000
			out[h.Item] += 1 + float64(h.BuyEvents) + 0.5/(1+days)
		}
	}
}

// EASE is Steck's closed-form item autoencoder over the EASEItems most
// interacted items; the other items score 0. With EASEPop > 0 the
// normalised recent popularity is blended in (ease_pop).
type EASE struct {
	P     Params
	Label string
	ds    *Dataset
	m     *ease.Model
	keep  map[int32]int32
	items []int32 // model index -> item
	st    *itemStats
}

func (s *EASE) Name() string {
	if s.Label != "" {
		return s.Label
	}
	return "ease"
}
func (s *EASE) Fit(ctx context.Context, ds *Dataset) error {
	p := s.P.withDefaults()
	s.ds = ds
	s.st = newItemStats(ds, p)
	cnt := make([]float64, len(ds.Items))
	for _, hs := range ds.History {
		for _, h := range hs {
			cnt[h.Item]++
		}
	}
	order := make([]int32, 0, len(ds.Items))
	for i := range ds.Items {
		if cnt[i] > 0 {
			order = append(order, int32(i))
		}
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		switch {
		case cnt[a] > cnt[b]:
			return -1
		case cnt[a] < cnt[b]:
			return 1
		}
		return int(a - b)
	})
	if len(order) > p.EASEItems {
		order = order[:p.EASEItems]
	}
	s.items = order
	s.keep = make(map[int32]int32, len(order))
	for k, it := range order {
		s.keep[it] = int32(k)
	}
	m, err := ease.Fit(ctx, len(order), userRows(ds, p, s.keep), ease.Options{Lambda: p.EASELambda, Threads: p.Threads})
	if err != nil {
		return err
	}
	s.m = m
	return nil
}

// Modelled reports how many items the model covers.
func (s *EASE) Modelled() int { return len(s.items) }

func (s *EASE) Score(u int32, out []float64) {
	p := s.P.withDefaults()
	var x []ease.Entry
	for _, h := range s.ds.History[u] {
		if k, ok := s.keep[h.Item]; ok {
			w := p.Weights[0]*float32(h.Views) + p.Weights[1]*float32(h.Carts) + p.Weights[2]*float32(h.BuyEvents)
			if w > 0 {
				x = append(x, ease.Entry{Item: k, Value: float32(math.Log1p(float64(w)))})
			}
		}
	}
	buf := make([]float64, s.m.N)
	s.m.Score(x, buf)
	top := 0.0
	for _, v := range buf {
		top = max(top, v)
	}
	for k, v := range buf {
		if top > 0 {
			v /= top
		}
		out[s.items[k]] = v
	}
	if p.EASEPop > 0 {
		for i := range out {
			out[i] += p.EASEPop * s.st.popNorm[i]
		}
	}
}
