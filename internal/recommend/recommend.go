// Package recommend answers one recommendation request: read the user's
// features, gather candidates from every source, read the candidates'
// product features in one batch, score them, rerank under business rules,
// and log the served list as an impression. Each stage's time is reported
// through Hooks.
//
// It owns no state and no HTTP: serve decodes requests and calls Service.
package recommend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/rank"
	"github.com/recohq/reco/internal/rerank"
)

// Store is the part of the online store that a request reads.
type Store interface {
	User(id string) (*feature.User, bool)
	Products(ids []string, out []*feature.Product)
	Index() *memstore.Index
}

// ImpressionSink receives every served list. Log must not block for long:
// the request is already answered.
type ImpressionSink interface {
	LogImpression(im *event.Impression)
}

// Hooks observe requests; each must be fast and safe for concurrent use.
type Hooks struct {
	OnStage    func(stage string, took time.Duration)
	OnFallback func(fallback string)
	OnSource   func(source string, candidates int)
	OnDone     func(took time.Duration) // the whole request
}

// Options configure a Service.
type Options struct {
	Sources   []candidate.Source // nil means the default mix
	PerSource int                // candidates asked of each source; 0 means 100
	// Rankers returns the trained rankers to try for a user, in order (the
	// serving or canary version, then the previous one). When every one
	// fails, or there are none, the rule-based ranker ranks.
	Rankers    func(userID string) []rank.Ranker
	Rerank     rerank.Options
	Features   feature.Options
	MaxResults int // largest num_recommendations; 0 means 100
	// CacheSize bounds the local cache of users and products read from a
	// FallibleStore, served while it is unavailable; 0 means 100,000 each.
	CacheSize int
	// CacheTTL is how old a cached value may be when served; 0 means 24h
	// (the case study's).
	CacheTTL time.Duration
	// Precomputed, if set, returns a user's precomputed recommendations:
	// served when the live path cannot answer.
	Precomputed func(userID string) ([]Item, bool)
	Now         func() time.Time
	Hooks       Hooks
}

// Service answers requests. It is safe for concurrent use.
type Service struct {
	store    Store
	fallible FallibleStore // store's fallible reads, or nil
	cache    *localCache
	sink     ImpressionSink
	opt      Options
	rules    rank.Rules
}

// DefaultSources is the candidate mix used when Options.Sources is nil.
// Co-visitation is included when the store can read it; buy-again when
// repeat purchases are allowed.
func DefaultSources(st Store, repeatPurchase bool) []candidate.Source {
	var out []candidate.Source
	if cv, ok := st.(candidate.CoVisitReader); ok {
		out = append(out, candidate.CoVisitation{Store: cv})
	}
	if repeatPurchase {
		out = append(out, candidate.BuyAgain{})
	}
	return append(out, candidate.History{}, candidate.CategoryPopular{}, candidate.Trending{}, candidate.Popular{})
}

// New returns a service reading st and logging impressions to sink (which
// may be nil).
func New(st Store, sink ImpressionSink, o Options) *Service {
	if o.PerSource == 0 {
		o.PerSource = 100
	}
	if o.Rankers == nil {
		o.Rankers = func(string) []rank.Ranker { return nil }
	}
	if o.MaxResults == 0 {
		o.MaxResults = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Features = o.Features.WithDefaults()
	if o.Sources == nil {
		o.Sources = DefaultSources(st, o.Rerank.AllowPurchased)
	}
	if o.CacheSize == 0 {
		o.CacheSize = 100000
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = 24 * time.Hour
	}
	s := &Service{store: st, sink: sink, opt: o, cache: newLocalCache(o.CacheSize, o.CacheTTL)}
	s.fallible, _ = st.(FallibleStore)
	return s
}

// Request is one recommendation request.
type Request struct {
	UserID    string
	SessionID string
	Context   map[string]any
	N         int // 0 means 10
	Exclude   []string
	Explain   bool // add each item's top feature contributions

	// Experiment and Variant name the A/B arm serving this request; they
	// are logged with the impression (the exposure). Strategy, if set, is
	// what the arm changes.
	Experiment, Variant string
	Strategy            *Strategy
	// NoLog serves without logging an impression (precomputation: nothing
	// is shown yet).
	NoLog bool
}

// Strategy changes how one request is served (an experiment arm); zero
// fields keep the service's configuration.
type Strategy struct {
	// PopularOnly serves the most popular items, ranked by popularity
	// alone: the usual control arm.
	PopularOnly bool
	// SourceWeights multiplies each candidate source's scores by name; 0
	// turns a source off. Unnamed sources keep 1.
	SourceWeights map[string]float64
	// Rankers replaces the model chain: nil keeps it, an empty non-nil
	// slice ranks with the rule-based ranker.
	Rankers        []rank.Ranker
	MaxPerCategory int
	PromotedBoost  float64
}

// Item is one recommended product.
type Item struct {
	ProductID string  `json:"product_id"`
	Score     float64 `json:"score"`
	Category  string  `json:"category"`
	Price     float64 `json:"price"`
	Source    string  `json:"source"`
	Reason    string  `json:"reason"`
	// Explanation lists the features that moved the item's score most
	// (TreeSHAP contributions of the model), when the request asked.
	Explanation []Factor `json:"explanation,omitempty"`
}

// Factor is one feature's contribution to an item's score.
type Factor struct {
	Feature      string  `json:"feature"`
	Value        float64 `json:"value"`
	Contribution float64 `json:"contribution"`
}

// Response is the served list.
type Response struct {
	RequestID    string
	Items        []Item
	ModelVersion string
	Fallback     string // "" when the full path served
	Candidates   int
	Experiment   string
	Variant      string
}

// Recommend answers one request.
func (s *Service) Recommend(ctx context.Context, req Request) (*Response, error) {
	n := req.N
	if n <= 0 {
		n = 10
	}
	if n > s.opt.MaxResults {
		n = s.opt.MaxResults
	}
	now := s.opt.Now()
	nowMs := now.UnixMilli()
	fo := &s.opt.Features

	t0 := time.Now()
	user, degraded, ok := s.readUser(ctx, req.UserID, now)
	if !ok {
		// No features at all: precomputed recommendations, else popular.
		return s.degrade(ctx, req, n, now)
	}
	var topCats []feature.CatAffinity
	if user != nil {
		topCats = user.TopCategories(5, nowMs, fo)
	}
	t1 := s.stage("features", t0)

	ix := s.store.Index()
	in := &candidate.Input{User: user, TopCats: topCats, SessionID: req.SessionID, Now: nowMs, Index: ix}
	st := req.Strategy
	if st == nil {
		st = &Strategy{}
	}
	lists := make([][]candidate.Candidate, 0, len(s.opt.Sources))
	for _, src := range s.opt.Sources {
		w, weighted := st.SourceWeights[src.Name()]
		if st.PopularOnly && src.Name() != candidate.SrcPopular || weighted && w <= 0 {
			continue
		}
		k := s.opt.PerSource
		switch src.Name() {
		case candidate.SrcPopular, candidate.SrcTrending:
			k = min(k, 40) // the same for everyone: the ranker sees enough of them
		}
		l, err := src.Candidates(ctx, in, k)
		if err != nil {
			s.fallback("source_" + src.Name())
			continue
		}
		if h := s.opt.Hooks.OnSource; h != nil {
			h(src.Name(), len(l))
		}
		if weighted && w != 1 {
			k := candidate.SourceIndex(src.Name())
			for i := range l {
				l[i].Scores[k] *= float32(w)
			}
		}
		lists = append(lists, l)
	}
	cands := candidate.Merge(lists...)
	t2 := s.stage("candidates", t1)

	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.ID
	}
	products := make([]*feature.Product, len(cands))
	if !s.readProducts(ctx, ids, products, now) {
		return s.degrade(ctx, req, n, now)
	}
	t3 := s.stage("product_features", t2)

	slate := &rank.Slate{User: user, TopCats: topCats, Now: nowMs, Items: cands, Products: products, MaxPop: ix.MaxPop, Opt: fo}
	rank.BuildVectors(slate)
	resp := &Response{RequestID: newRequestID(), Candidates: len(cands), Experiment: req.Experiment, Variant: req.Variant}
	if degraded {
		resp.Fallback = "feature_cache"
		s.fallback(resp.Fallback)
	}
	var ranker rank.Ranker
	chain := s.opt.Rankers(req.UserID)
	switch {
	case st.PopularOnly:
		chain = []rank.Ranker{rank.Popularity{}}
	case st.Rankers != nil:
		chain = st.Rankers
	}
	for i, r := range chain {
		if err := r.Score(ctx, slate); err == nil && finite(slate.Scores) {
			ranker = r
			if i > 0 {
				resp.Fallback = "previous_model"
				s.fallback(resp.Fallback)
			}
			break
		}
	}
	if ranker == nil {
		if len(chain) > 0 {
			resp.Fallback = "rule_based_ranker"
			s.fallback(resp.Fallback)
		}
		ranker = s.rules
		slate.Scores = nil
		_ = ranker.Score(ctx, slate)
	}
	resp.ModelVersion = ranker.Version()
	t4 := s.stage("score", t3)

	excluded := make(map[string]bool, len(req.Exclude))
	for _, id := range req.Exclude {
		excluded[id] = true
	}
	items := make([]rerank.Item, 0, len(cands))
	for i, c := range cands {
		p := products[i]
		if p == nil || excluded[c.ID] {
			continue // never recommend what the catalog and events never named
		}
		items = append(items, rerank.Item{
			ID: c.ID, Category: p.Category, Score: slate.Scores[i], Source: c.Source,
			Promoted: p.Promoted, Margin: p.Margin, InStock: p.InStock(),
			Purchased: user != nil && user.Bought[c.ID] > 0, Index: i,
		})
	}
	ro := s.opt.Rerank
	if st.MaxPerCategory != 0 {
		ro.MaxPerCategory = st.MaxPerCategory
	}
	if st.PromotedBoost != 0 {
		ro.PromotedBoost = st.PromotedBoost
	}
	if st.PopularOnly {
		ro.PromotedBoost = 1
	}
	out := rerank.Apply(items, nil, n, ro)
	if len(out) < n {
		// Short after the rules: fill from further down the popular list.
		fill, fillProducts := s.fillers(ix, cands, 4*n)
		base := len(products)
		products = append(products, fillProducts...)
		for i := range fill {
			fill[i].Index += base
			fill[i].Purchased = user != nil && user.Bought[fill[i].ID] > 0
		}
		out = rerank.Apply(items, fill, n, ro)
	}
	if len(cands) == 0 && resp.Fallback == "" {
		resp.Fallback = "no_candidates"
	}
	resp.Items = make([]Item, len(out))
	im := &event.Impression{
		RequestID: resp.RequestID, UserID: req.UserID, SessionID: req.SessionID,
		ModelVersion: resp.ModelVersion, Fallback: resp.Fallback, Time: nowMs, Experiment: req.Experiment, Variant: req.Variant,
		FeatureNames: rank.FeatureNames, Items: make([]event.ImpressionItem, len(out)),
	}
	for i, it := range out {
		p := products[it.Index]
		price := p.Price
		if price < 0 {
			price = 0
		}
		reason := it.Reason
		if it.Index < len(slate.Items) {
			reason = rank.Reason(slate, it.Index)
		}
		resp.Items[i] = Item{ProductID: it.ID, Score: round6(it.Score), Category: it.Category, Price: price, Source: it.Source, Reason: reason}
		if req.Explain && it.Index < len(slate.Items) {
			resp.Items[i].Explanation = explain(ranker, slate, it.Index)
		}
		im.Items[i] = event.ImpressionItem{ProductID: it.ID, Source: it.Source, Position: int32(i), Score: float32(it.Score)}
		if it.Index < len(slate.Vectors) {
			im.Items[i].Features = slate.Vectors[it.Index]
		}
	}
	s.stage("rerank", t4)
	if h := s.opt.Hooks.OnDone; h != nil {
		h(time.Since(t0))
	}
	if s.sink != nil && !req.NoLog {
		s.sink.LogImpression(im)
	}
	return resp, nil
}

// readUser reads the user's features. From a FallibleStore, a failure is
// answered from the local cache (degraded); ok is false when neither has
// an answer. An unknown user is ok with a nil user.
func (s *Service) readUser(ctx context.Context, id string, now time.Time) (u *feature.User, degraded, ok bool) {
	if s.fallible == nil {
		u, _ = s.store.User(id)
		return u, false, true
	}
	u, err := s.fallible.ReadUser(ctx, id)
	if err == nil {
		if u != nil {
			s.cache.putUser(u, now)
		}
		return u, false, true
	}
	if u, hit := s.cache.user(id, now); hit {
		return u, true, true
	}
	return nil, true, false
}

// readProducts reads product features, from the cache for a failed read;
// false when too few (under half) are known.
func (s *Service) readProducts(ctx context.Context, ids []string, out []*feature.Product, now time.Time) bool {
	if s.fallible == nil {
		s.store.Products(ids, out)
		return true
	}
	if err := s.fallible.ReadProducts(ctx, ids, out); err == nil {
		s.cache.putProducts(out, now)
		return true
	}
	return 2*s.cache.productsInto(ids, out, now) >= len(ids)
}

// degrade answers without the live path: the user's precomputed
// recommendations, else the most popular products (details from the local
// cache when the store is down). The response names the fallback.
func (s *Service) degrade(ctx context.Context, req Request, n int, now time.Time) (*Response, error) {
	resp := &Response{RequestID: newRequestID(), ModelVersion: "none", Experiment: req.Experiment, Variant: req.Variant}
	if s.opt.Precomputed != nil {
		if items, ok := s.opt.Precomputed(req.UserID); ok && len(items) > 0 {
			resp.Fallback, resp.ModelVersion = "precomputed", "precomputed"
			resp.Items = items[:min(n, len(items))]
			s.fallback(resp.Fallback)
			return resp, nil
		}
	}
	resp.Fallback, resp.ModelVersion = "popular", rank.PopularityVersion
	s.fallback(resp.Fallback)
	ix := s.store.Index()
	ids := make([]string, 0, 4*n)
	for _, g := range ix.Global {
		if len(ids) == cap(ids) {
			break
		}
		ids = append(ids, g.ID)
	}
	ps := make([]*feature.Product, len(ids))
	if !s.readProducts(ctx, ids, ps, now) {
		s.cache.productsInto(ids, ps, now)
	}
	for i, id := range ids {
		if len(resp.Items) == n {
			break
		}
		it := Item{ProductID: id, Score: round6(ix.Global[i].Score / max(ix.MaxPop, 1e-9)), Source: candidate.SrcPopular, Reason: "popular right now"}
		if p := ps[i]; p != nil {
			if !p.InStock() {
				continue
			}
			it.Category, it.Price = p.Category, max(p.Price, 0)
		}
		resp.Items = append(resp.Items, it)
	}
	return resp, nil
}

// fillers returns up to k popular products not among cands, as rerank
// items indexed into the returned products.
func (s *Service) fillers(ix *memstore.Index, cands []candidate.Candidate, k int) ([]rerank.Item, []*feature.Product) {
	have := make(map[string]bool, len(cands))
	for _, c := range cands {
		have[c.ID] = true
	}
	var ids []string
	for _, g := range ix.Global {
		if len(ids) >= k {
			break
		}
		if !have[g.ID] {
			ids = append(ids, g.ID)
		}
	}
	products := make([]*feature.Product, len(ids))
	s.readProducts(context.Background(), ids, products, s.opt.Now())
	items := make([]rerank.Item, 0, len(ids))
	for i, p := range products {
		if p == nil {
			continue
		}
		items = append(items, rerank.Item{ID: p.ID, Category: p.Category, Source: candidate.SrcPopular,
			Reason: "popular right now", InStock: p.InStock(), Promoted: p.Promoted, Index: i})
	}
	return items, products
}

// explain returns the top contributions of a model's score, or for the
// rule-based ranker the values of the features its formula uses.
func explain(r rank.Ranker, s *rank.Slate, i int) []Factor {
	v := s.Vectors[i]
	if m, ok := r.(*rank.Model); ok {
		cs, err := m.Explain(s, i, 5)
		if err != nil {
			return nil
		}
		out := make([]Factor, len(cs))
		for k, c := range cs {
			out[k] = Factor{Feature: c.Name, Value: nanToZero(float64(v[c.Feature])), Contribution: round6(c.Value)}
		}
		return out
	}
	var out []Factor
	for k, name := range rank.FeatureNames {
		switch name {
		case "category_affinity", "product_popularity_score", "price_fit", "src_co_visitation", "src_history":
			out = append(out, Factor{Feature: name, Value: nanToZero(float64(v[k]))})
		}
	}
	return out
}

func nanToZero(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return round6(f)
}

func (s *Service) stage(name string, start time.Time) time.Time {
	now := time.Now()
	if h := s.opt.Hooks.OnStage; h != nil {
		h(name, now.Sub(start))
	}
	return now
}

func (s *Service) fallback(name string) {
	if h := s.opt.Hooks.OnFallback; h != nil {
		h(name)
	}
}

func finite(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

func newRequestID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return "r-" + hex.EncodeToString(b[:])
}
