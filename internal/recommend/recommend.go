// Package recommend answers one recommendation request: read the user's
// features, gather candidates from every source, read the candidates'
// product features in one batch, score them, rerank under business rules,
// and log the served list as an impression. Each stage's time is reported
// through Hooks.
//
// Each stage has a time budget (Budgets) inside the request's deadline. A
// stage that fails or runs out of time is replaced by its fallback, and the
// response names every fallback taken (Response.Fallbacks). In-process work
// that is CPU-bound cannot be pre-empted: the budget is checked between
// stages and between models, and what does I/O (online store reads,
// candidate sources) runs under a context deadline or is left behind.
//
// It owns no state and no HTTP: serve decodes requests and calls Service.
package recommend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
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
	// Budgets bound each stage of a request; the zero value bounds none
	// (offline evaluation, tests). Serving sets them (DefaultBudgets).
	Budgets Budgets
	Now     func() time.Time
	Hooks   Hooks
}

// Budgets are the time budgets of a request's stages. A stage's deadline is
// its start plus its budget, and never later than the request's own (the
// context's). What is not done by then is replaced by its fallback:
//
//   - Features bounds the user's feature read and the candidates' product
//     feature read together. A read that fails or is late is answered from
//     the local cache ("feature_cache"); with nothing cached for the user,
//     the request is served from precomputed or popular items.
//   - Candidates bounds the candidate sources, which run concurrently. A
//     source that fails or is not done by then is dropped from the request
//     ("source_" + its name); the others are kept.
//   - Scoring bounds the model chain. Once it is spent no further model is
//     tried and the rule-based ranker scores ("rule_based_ranker"). A model
//     is told through its context; an in-process model that ignores it
//     finishes, and its scores are used.
//   - Rerank bounds the business rules, the popular fill (its product read
//     falls back to the cache) and explanations: past it, items after the
//     first are served without one ("explain_partial").
//
// A zero or negative budget bounds nothing: only the context's deadline
// bounds that stage. Wall-clock budgets make answers depend on load, so
// they are for serving, not for offline evaluation.
type Budgets struct {
	Features, Candidates, Scoring, Rerank time.Duration
}

// DefaultBudgets are the serving defaults: 15, 15, 15 and 5 ms, 50 ms in
// all, the default request deadline.
var DefaultBudgets = Budgets{Features: 15 * time.Millisecond, Candidates: 15 * time.Millisecond,
	Scoring: 15 * time.Millisecond, Rerank: 5 * time.Millisecond}

// within returns ctx bounded by start+budget; a budget <= 0 leaves ctx's
// own deadline.
func within(ctx context.Context, start time.Time, budget time.Duration) (context.Context, context.CancelFunc) {
	if budget <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, start.Add(budget))
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
	// Overloaded asks for the traffic-spike answer: the user's precomputed
	// list, else popular products, without reading the online store
	// (admission control sends here what it cannot admit). Its fallback
	// starts with "overload".
	Overloaded bool
	// NoBudgets lifts the stage budgets (batch work such as
	// precomputation): only ctx's deadline bounds the request.
	NoBudgets bool
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
	// Fallbacks names every fallback taken, in stage order, each once:
	// feature_cache, source_NAME, previous_model, rule_based_ranker,
	// explain_partial; or alone popular, precomputed or no_candidates.
	// Fallback is them joined with ","; both are empty when the full path
	// served.
	Fallbacks  []string
	Fallback   string
	Candidates int
	Experiment string
	Variant    string
}

// Recommend answers one request, within the request's deadline and each
// stage's budget (see Budgets). It returns an error only for a request it
// cannot answer at all; a degraded answer names its fallbacks.
func (s *Service) Recommend(ctx context.Context, req Request) (*Response, error) {
	n := req.N
	if n <= 0 {
		n = 10
	}
	if n > s.opt.MaxResults {
		n = s.opt.MaxResults
	}
	now := s.opt.Now()
	if req.Overloaded {
		return s.overloaded(req, n, now)
	}
	nowMs := now.UnixMilli()
	fo := &s.opt.Features
	b := s.opt.Budgets
	if req.NoBudgets {
		b = Budgets{}
	}
	resp := &Response{RequestID: newRequestID(), Experiment: req.Experiment, Variant: req.Variant}

	t0 := time.Now()
	fctx, cancel := within(ctx, t0, b.Features)
	defer cancel()
	user, cached, ok := s.readUser(fctx, req.UserID, now)
	if !ok {
		// No features at all: precomputed recommendations, else popular.
		return s.degrade(fctx, req, n, now)
	}
	if cached {
		s.take(resp, "feature_cache")
	}
	var topCats []feature.CatAffinity
	if user != nil {
		topCats = user.TopCategories(5, nowMs, fo)
	}
	t1 := s.stage("features", t0)
	if ctx.Err() != nil {
		// The request's deadline passed while reading: nothing else fits.
		return s.degrade(ctx, req, n, now)
	}

	ix := s.store.Index()
	in := &candidate.Input{User: user, TopCats: topCats, SessionID: req.SessionID, Now: nowMs, Index: ix}
	st := req.Strategy
	if st == nil {
		st = &Strategy{}
	}
	cands := candidate.Merge(s.gather(ctx, t1, b.Candidates, in, st, resp)...)
	t2 := s.stage("candidates", t1)

	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.ID
	}
	products := make([]*feature.Product, len(cands))
	// The product read gets what the user read left of the features budget.
	left := b.Features
	if left > 0 {
		// At least 1ns: what is spent stays spent (0 would mean none).
		left = max(1, left-t1.Sub(t0))
	}
	pctx, cancel := within(ctx, t2, left)
	defer cancel()
	cached, ok = s.readProducts(pctx, ids, products, now)
	if !ok {
		return s.degrade(pctx, req, n, now)
	}
	if cached {
		s.take(resp, "feature_cache")
	}
	t3 := s.stage("product_features", t2)

	slate := &rank.Slate{User: user, TopCats: topCats, Now: nowMs, Items: cands, Products: products, MaxPop: ix.MaxPop, Opt: fo}
	rank.BuildVectors(slate)
	resp.Candidates = len(cands)
	chain := s.opt.Rankers(req.UserID)
	switch {
	case st.PopularOnly:
		chain = []rank.Ranker{rank.Popularity{}}
	case st.Rankers != nil:
		chain = st.Rankers
	}
	ranker := s.score(ctx, t3, b.Scoring, chain, slate, resp)
	resp.ModelVersion = ranker.Version()
	t4 := s.stage("score", t3)

	rctx, cancel := within(ctx, t4, b.Rerank)
	defer cancel()
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
		fill, fillProducts, cached := s.fillers(rctx, ix, cands, 4*n)
		if cached {
			s.take(resp, "feature_cache")
		}
		base := len(products)
		products = append(products, fillProducts...)
		for i := range fill {
			fill[i].Index += base
			fill[i].Purchased = user != nil && user.Bought[fill[i].ID] > 0
		}
		out = rerank.Apply(items, fill, n, ro)
	}
	if len(cands) == 0 && len(resp.Fallbacks) == 0 {
		resp.Fallbacks = append(resp.Fallbacks, "no_candidates")
	}
	resp.Items = make([]Item, len(out))
	im := &event.Impression{
		RequestID: resp.RequestID, UserID: req.UserID, SessionID: req.SessionID,
		ModelVersion: resp.ModelVersion, Time: nowMs, Experiment: req.Experiment, Variant: req.Variant,
		FeatureNames: rank.FeatureNames, Items: make([]event.ImpressionItem, len(out)),
	}
	explained := 0
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
		// Explanations are CPU-bound (TreeSHAP: milliseconds an item for a
		// large model): the first item always, the others while the
		// rerank budget lasts.
		if req.Explain && it.Index < len(slate.Items) && (explained == 0 || rctx.Err() == nil) {
			resp.Items[i].Explanation = explain(ranker, slate, it.Index)
			explained++
		}
		im.Items[i] = event.ImpressionItem{ProductID: it.ID, Source: it.Source, Position: int32(i), Score: float32(it.Score)}
		if it.Index < len(slate.Vectors) {
			im.Items[i].Features = slate.Vectors[it.Index]
		}
	}
	if req.Explain && explained < explainable(out, len(slate.Items)) {
		s.take(resp, "explain_partial")
	}
	resp.Fallback = strings.Join(resp.Fallbacks, ",")
	im.Fallback = resp.Fallback
	s.stage("rerank", t4)
	if h := s.opt.Hooks.OnDone; h != nil {
		h(time.Since(t0))
	}
	if s.sink != nil && !req.NoLog {
		s.sink.LogImpression(im)
	}
	return resp, nil
}

// explainable counts the served items that can have an explanation (those
// ranked by the slate, not fillers).
func explainable(out []rerank.Item, ranked int) int {
	k := 0
	for _, it := range out {
		if it.Index < ranked {
			k++
		}
	}
	return k
}

// gather runs the candidate sources concurrently, each under budget from
// start, and returns the lists of those done in time, in source order. A
// source that fails, or is not done by the deadline, is dropped from this
// request and named in resp; a late one finishes in the background and its
// list is discarded.
func (s *Service) gather(ctx context.Context, start time.Time, budget time.Duration, in *candidate.Input, st *Strategy, resp *Response) [][]candidate.Candidate {
	type job struct {
		src      candidate.Source
		k        int
		w        float64
		weighted bool
	}
	jobs := make([]job, 0, len(s.opt.Sources))
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
		jobs = append(jobs, job{src, k, w, weighted})
	}
	cctx, cancel := within(ctx, start, budget)
	defer cancel()
	type result struct {
		i   int
		l   []candidate.Candidate
		err error
	}
	// Buffered: a source left behind never blocks on sending.
	results := make(chan result, len(jobs))
	for i, j := range jobs {
		go func() {
			l, err := j.src.Candidates(cctx, in, j.k)
			results <- result{i, l, err}
		}()
	}
	lists := make([][]candidate.Candidate, len(jobs))
	done := make([]bool, len(jobs))
	failed := make([]bool, len(jobs))
	take := func(r result) {
		done[r.i] = true
		if r.err != nil {
			failed[r.i] = true
			return
		}
		lists[r.i] = r.l
	}
wait:
	for pending := len(jobs); pending > 0; pending-- {
		select {
		case r := <-results:
			take(r)
		case <-cctx.Done():
			for { // what finished meanwhile is still in time
				select {
				case r := <-results:
					take(r)
				default:
					break wait
				}
			}
		}
	}
	out := lists[:0]
	for i, j := range jobs {
		name := j.src.Name()
		if !done[i] || failed[i] {
			s.take(resp, "source_"+name)
			continue
		}
		l := lists[i]
		if h := s.opt.Hooks.OnSource; h != nil {
			h(name, len(l))
		}
		if k := candidate.SourceIndex(name); j.weighted && j.w != 1 && k >= 0 {
			for c := range l {
				l[c].Scores[k] *= float32(j.w)
			}
		}
		out = append(out, l)
	}
	return out
}

// score ranks slate with the first model of chain that succeeds within
// budget from start, else with the rule-based ranker, and returns the
// ranker that scored. Models run in this goroutine: one that ignores its
// context is not pre-empted, but no further model is tried once the budget
// is spent.
func (s *Service) score(ctx context.Context, start time.Time, budget time.Duration, chain []rank.Ranker, slate *rank.Slate, resp *Response) rank.Ranker {
	sctx, cancel := within(ctx, start, budget)
	defer cancel()
	for i, r := range chain {
		if sctx.Err() != nil {
			break
		}
		if err := r.Score(sctx, slate); err == nil && finite(slate.Scores) {
			if i > 0 {
				s.take(resp, "previous_model")
			}
			return r
		}
	}
	if len(chain) > 0 {
		s.take(resp, "rule_based_ranker")
	}
	slate.Scores = nil
	_ = s.rules.Score(ctx, slate)
	return s.rules
}

// take records a fallback in resp (once) and reports it to the hook.
func (s *Service) take(resp *Response, name string) {
	if slices.Contains(resp.Fallbacks, name) {
		return
	}
	resp.Fallbacks = append(resp.Fallbacks, name)
	s.fallback(name)
}

// readUser reads the user's features. From a FallibleStore, a failed or
// late read is answered from the local cache (cached); ok is false when
// neither has an answer. An unknown user is ok with a nil user.
func (s *Service) readUser(ctx context.Context, id string, now time.Time) (u *feature.User, cached, ok bool) {
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

// readProducts reads product features into out; from a FallibleStore whose
// read fails or is late, from the local cache (cached). ok is false when
// too few (under half) are known then.
func (s *Service) readProducts(ctx context.Context, ids []string, out []*feature.Product, now time.Time) (cached, ok bool) {
	if s.fallible == nil {
		s.store.Products(ids, out)
		return false, true
	}
	if err := s.fallible.ReadProducts(ctx, ids, out); err == nil {
		s.cache.putProducts(out, now)
		return false, true
	}
	return true, 2*s.cache.productsInto(ids, out, now) >= len(ids)
}

// overloaded is degrade with no online-store I/O: product details come
// from the embedded store (memory) or the local cache only.
func (s *Service) overloaded(req Request, n int, now time.Time) (*Response, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // an ended context: a remote store is not asked, its cache answers
	s.fallback("overload")
	resp, err := s.degrade(ctx, req, n, now)
	if err != nil {
		return nil, err
	}
	resp.Fallbacks = append([]string{"overload"}, resp.Fallbacks...)
	resp.Fallback = strings.Join(resp.Fallbacks, ",")
	return resp, nil
}

// degrade answers without the live path: the user's precomputed
// recommendations, else the most popular products (details read under
// ctx, else from the local cache). The response names the fallback.
func (s *Service) degrade(ctx context.Context, req Request, n int, now time.Time) (*Response, error) {
	resp := &Response{RequestID: newRequestID(), ModelVersion: "none", Experiment: req.Experiment, Variant: req.Variant}
	if s.opt.Precomputed != nil {
		if items, ok := s.opt.Precomputed(req.UserID); ok && len(items) > 0 {
			s.take(resp, "precomputed")
			resp.Fallback, resp.ModelVersion = "precomputed", "precomputed"
			resp.Items = items[:min(n, len(items))]
			return resp, nil
		}
	}
	s.take(resp, "popular")
	resp.Fallback, resp.ModelVersion = "popular", rank.PopularityVersion
	ix := s.store.Index()
	ids := make([]string, 0, 4*n)
	for _, g := range ix.Global {
		if len(ids) == cap(ids) {
			break
		}
		ids = append(ids, g.ID)
	}
	ps := make([]*feature.Product, len(ids))
	s.readProducts(ctx, ids, ps, now)
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
// items indexed into the returned products, read under ctx (cached: from
// the local cache).
func (s *Service) fillers(ctx context.Context, ix *memstore.Index, cands []candidate.Candidate, k int) ([]rerank.Item, []*feature.Product, bool) {
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
	cached, _ := s.readProducts(ctx, ids, products, s.opt.Now())
	items := make([]rerank.Item, 0, len(ids))
	for i, p := range products {
		if p == nil {
			continue
		}
		items = append(items, rerank.Item{ID: p.ID, Category: p.Category, Source: candidate.SrcPopular,
			Reason: "popular right now", InStock: p.InStock(), Promoted: p.Promoted, Index: i})
	}
	return items, products, cached
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
