// Package train builds training sets from the log and trains the ranking
// model. Two sources of rows, both leak-free by construction:
//
//   - Served traffic: every impression in the log carries the feature
//     vectors the model scored; labels come from later events that carry the
//     impression's request_id, within the attribution window. Training sees
//     exactly what serving saw.
//   - History (imports, cold start): events are replayed in event-time order
//     into a fresh online state; at each positive event the candidate
//     sources run against the state as it was just before it, and the
//     candidates become one query, labelled by which one the user chose.
//     A row is built before the event it labels is applied, so no event at
//     or after a row's time can reach its features.
package train

import (
	"cmp"
	"context"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/rank"
	"github.com/recohq/reco/internal/recommend"
)

// Query is one ranked list: rows of features with graded labels.
type Query struct {
	Time   int64 // Unix ms
	UserID string
	X      []float32 // row-major, rank.NumFeatures columns
	Labels []float32
}

// Rows is the number of rows.
func (q *Query) Rows() int { return len(q.Labels) }

// LabelWeights grade the events attributed to an item.
type LabelWeights struct {
	Click     float32 // 0 means 1
	AddToCart float32 // 0 means 2
	Purchase  float32 // 0 means 4
}

func (w LabelWeights) withDefaults() LabelWeights {
	if w.Click == 0 {
		w.Click = 1
	}
	if w.AddToCart == 0 {
		w.AddToCart = 2
	}
	if w.Purchase == 0 {
		w.Purchase = 4
	}
	return w
}

func (w LabelWeights) of(t event.Type) float32 {
	switch t {
	case event.Click:
		return w.Click
	case event.AddToCart:
		return w.AddToCart
	case event.Purchase:
		return w.Purchase
	}
	return 0
}

// Scan calls fn for every record of the log, in log order per partition.
type Scan func(fn func(r *event.Record) error) error

// FromImpressions builds one query per logged impression whose vectors
// match the serving schema; an item's label is the strongest event
// attributed to it by request_id within window after the impression.
func FromImpressions(scan Scan, window time.Duration, w LabelWeights) ([]Query, error) {
	w = w.withDefaults()
	type imp struct {
		q     *Query
		items map[string]int
	}
	byReq := map[string]*imp{}
	var queries []*Query
	type label struct {
		req, product string
		t            int64
		weight       float32
	}
	var labels []label
	schema := rank.FeatureNames
	err := scan(func(r *event.Record) error {
		switch r.Kind {
		case event.KindImpression:
			im := &r.Impression
			if len(im.Items) == 0 || !slices.Equal(im.FeatureNames, schema) {
				return nil
			}
			q := &Query{Time: im.Time, UserID: im.UserID}
			items := make(map[string]int, len(im.Items))
			for _, it := range im.Items {
				if len(it.Features) != len(schema) {
					return nil
				}
				items[it.ProductID] = len(q.Labels)
				q.X = append(q.X, it.Features...)
				q.Labels = append(q.Labels, 0)
			}
			byReq[im.RequestID] = &imp{q: q, items: items}
			queries = append(queries, q)
		case event.KindEvent:
			e := &r.Event
			if e.RequestID != "" {
				if wt := w.of(e.Type); wt > 0 {
					labels = append(labels, label{e.RequestID, e.ProductID, e.Time, wt})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Labels are joined after the scan: a click may sit in another
	// partition than its impression.
	win := window.Milliseconds()
	for _, l := range labels {
		im := byReq[l.req]
		if im == nil {
			continue
		}
		i, ok := im.items[l.product]
		if !ok || l.t < im.q.Time-1000 || l.t > im.q.Time+win {
			continue
		}
		im.q.Labels[i] = max(im.q.Labels[i], l.weight)
	}
	out := make([]Query, 0, len(queries))
	for _, q := range queries {
		out = append(out, *q)
	}
	slices.SortStableFunc(out, func(a, b Query) int { return int(a.Time - b.Time) })
	return out, nil
}

// HistoryOptions tune FromHistory.
type HistoryOptions struct {
	Features     feature.Options
	Positives    []event.Type // events that make a query; nil means click, add_to_cart, purchase
	MaxQueries   int          // 0 means 50,000 (sampled uniformly when there are more)
	Candidates   int          // candidates asked of each source; 0 means 100 (popular and trending: at most 40), as serving asks
	MaxNegatives int          // negatives kept per query; 0 means 100 (better than 30 on the Taobao and Online Retail validation splits, EVALUATION.md)
	// Sources builds the candidate sources over the replay's store. It
	// must be the mix serving uses; nil means recommend.DefaultSources
	// (co-visitation, buy-again when RepeatPurchase, history, category
	// popular, trending, popular).
	Sources func(st *memstore.Store) []candidate.Source
	// RepeatPurchase mirrors serving's rerank.Options.AllowPurchased. When
	// false, candidates the user already bought are dropped from a query
	// (serving never shows them), so a repeat purchase is never a positive.
	RepeatPurchase bool
	// LeaveOneOut is for logs whose order is not time (an import without
	// timestamps, such as the Taobao benchmark, whose rows are grouped by
	// behaviour): one positive event per user, the one with the smallest
	// FNV-32a hash of "user/product", is held out; every other event is
	// applied; each held-out event then makes a query against that final
	// state, which is how serving sees a user. Without it, events are
	// replayed in time order.
	LeaveOneOut bool
	// Snapshot, when > 0, builds queries the way an offline evaluation
	// asks them instead of at baskets: at snapshot times Snapshot apart
	// (the last one Horizon before the log's last event, so every label
	// window is complete), each user with earlier events and with
	// positive events in [cut, cut+Horizon) makes one query against the
	// state at the cut, every item of those events labelled 1 ("what will
	// the user buy in the next month"). Ignored with LeaveOneOut.
	Snapshot time.Duration
	// Horizon is the label window of a snapshot query; 0 means Snapshot.
	Horizon time.Duration
	// From, when not 0, is the Unix ms before which no query is built
	// (earlier events only build the state). With SimilarAsOf as a source,
	// it is the first table's cut.
	From     int64
	Seed     uint64
	Progress func(done, total int)
}

// FromHistory builds ranking queries from behaviour events. By default it
// replays them in event-time order, and the positive events of one user at
// one timestamp (a basket) make one query, built before any event of that
// timestamp is applied, from the candidates the sources propose at that
// moment; every positive item of the basket is labelled 1 (so items bought
// together are never each other's negatives). Queries none of whose
// positives was proposed are skipped: serving could not have ranked them
// either. With LeaveOneOut, see HistoryOptions.
func FromHistory(ctx context.Context, events []event.Event, o HistoryOptions) ([]Query, error) {
	if o.Positives == nil {
		o.Positives = []event.Type{event.Click, event.AddToCart, event.Purchase}
	}
	if o.MaxQueries == 0 {
		o.MaxQueries = 50000
	}
	if o.Candidates == 0 {
		o.Candidates = 100
	}
	if o.MaxNegatives == 0 {
		o.MaxNegatives = 100
	}
	if o.Sources == nil {
		repeat := o.RepeatPurchase
		o.Sources = func(st *memstore.Store) []candidate.Source { return recommend.DefaultSources(st, repeat) }
	}
	o.Features = o.Features.WithDefaults()
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b event.Event) int { return cmp.Compare(a.Time, b.Time) })
	rng := rand.New(rand.NewPCG(o.Seed, 0x7261696e))
	var now int64
	st := memstore.New(memstore.Options{Features: o.Features, Now: func() time.Time { return time.UnixMilli(now) }})
	sources := o.Sources(st)
	if o.LeaveOneOut {
		return leaveOneOut(ctx, st, sources, evs, &now, o, rng)
	}
	if o.Snapshot > 0 {
		return snapshots(ctx, st, sources, evs, &now, o, rng)
	}
	// Count the baskets to sample them uniformly.
	type basket struct {
		user string
		t    int64
	}
	baskets := map[basket]bool{}
	for i := range evs {
		if slices.Contains(o.Positives, evs[i].Type) && evs[i].Time >= o.From {
			baskets[basket{evs[i].UserID, evs[i].Time}] = true
		}
	}
	keep := 1.0
	if len(baskets) > o.MaxQueries {
		keep = float64(o.MaxQueries) / float64(len(baskets))
	}
	var lastIndex int64
	var out []Query
	var rec event.Record
	nextCheck := 0
	for i := 0; i < len(evs); {
		if i >= nextCheck {
			nextCheck = i + 1024
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if o.Progress != nil {
				o.Progress(i, len(evs))
			}
		}
		j := i + 1
		for j < len(evs) && evs[j].Time == evs[i].Time {
			j++
		}
		now = evs[i].Time
		if now-lastIndex > 10*60*1000 { // the index as serving would have it: at most 10 minutes old
			st.RefreshIndex()
			lastIndex = now
		}
		// The run's baskets, users in order of first appearance.
		var users []string
		chosen := map[string][]string{}
		session := map[string]string{}
		for k := i; k < j; k++ {
			e := &evs[k]
			if !slices.Contains(o.Positives, e.Type) {
				continue
			}
			if _, ok := chosen[e.UserID]; !ok {
				users = append(users, e.UserID)
				session[e.UserID] = e.SessionID
			}
			if !slices.Contains(chosen[e.UserID], e.ProductID) {
				chosen[e.UserID] = append(chosen[e.UserID], e.ProductID)
			}
		}
		for _, u := range users {
			if now < o.From {
				break
			}
			if rng.Float64() < keep {
				if q, ok := queryAt(ctx, st, sources, u, session[u], chosen[u], now, o, rng); ok {
					out = append(out, q)
				}
			}
		}
		for k := i; k < j; k++ {
			rec.Kind = event.KindEvent
			rec.Event = evs[k]
			st.Apply(&rec)
		}
		i = j
	}
	return out, nil
}

// heldOut returns the index in evs of each user's held-out positive: the
// one with the smallest FNV-32a hash of "user/product".
func heldOut(evs []event.Event, positives []event.Type) map[int]bool {
	held := map[string]int{}
	heldHash := map[string]uint32{}
	for i := range evs {
		e := &evs[i]
		if !slices.Contains(positives, e.Type) {
			continue
		}
		h := fnv.New32a()
		h.Write([]byte(e.UserID + "/" + e.ProductID))
		v := h.Sum32()
		if old, ok := heldHash[e.UserID]; !ok || v < old {
			held[e.UserID], heldHash[e.UserID] = i, v
		}
	}
	out := make(map[int]bool, len(held))
	for _, i := range held {
		out[i] = true
	}
	return out
}

// WithoutHeldOut returns the events FromHistory applies with LeaveOneOut
// (every event but each user's held-out positive), for building anything
// else the queries' features read, such as a similar-items table, without
// the held-out events leaking into it. positives nil means FromHistory's
// default.
func WithoutHeldOut(events []event.Event, positives []event.Type) []event.Event {
	if positives == nil {
		positives = []event.Type{event.Click, event.AddToCart, event.Purchase}
	}
	held := heldOut(events, positives)
	out := make([]event.Event, 0, len(events)-len(held))
	for i := range events {
		if !held[i] {
			out = append(out, events[i])
		}
	}
	return out
}

// leaveOneOut holds out one positive event per user, applies the rest and
// builds one query per held-out event against the final state.
func leaveOneOut(ctx context.Context, st *memstore.Store, sources []candidate.Source, evs []event.Event, now *int64, o HistoryOptions, rng *rand.Rand) ([]Query, error) {
	isHeld := heldOut(evs, o.Positives)
	var rec event.Record
	for i := range evs {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if o.Progress != nil {
				o.Progress(i, len(evs))
			}
		}
		if isHeld[i] {
			continue
		}
		*now = evs[i].Time
		rec.Kind = event.KindEvent
		rec.Event = evs[i]
		st.Apply(&rec)
	}
	if len(evs) > 0 {
		*now = evs[len(evs)-1].Time + 1000
	}
	st.RefreshIndex()
	idx := make([]int, 0, len(isHeld))
	for i := range isHeld {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	keep := 1.0
	if len(idx) > o.MaxQueries {
		keep = float64(o.MaxQueries) / float64(len(idx))
	}
	var out []Query
	for _, i := range idx {
		e := &evs[i]
		if rng.Float64() >= keep {
			continue
		}
		if q, ok := queryAt(ctx, st, sources, e.UserID, e.SessionID, []string{e.ProductID}, *now, o, rng); ok {
			out = append(out, q)
		}
	}
	return out, ctx.Err()
}

// snapshots builds FromHistory's queries at snapshot times (see
// HistoryOptions.Snapshot).
func snapshots(ctx context.Context, st *memstore.Store, sources []candidate.Source, evs []event.Event, now *int64, o HistoryOptions, rng *rand.Rand) ([]Query, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	step, horizon := o.Snapshot.Milliseconds(), o.Horizon.Milliseconds()
	if horizon <= 0 {
		horizon = step
	}
	first, last := evs[0].Time, evs[len(evs)-1].Time
	var cuts []int64
	for c := last - horizon; c > first && c >= o.From; c -= step {
		cuts = append(cuts, c)
	}
	slices.Reverse(cuts)
	type pos struct {
		t  int64
		id string
	}
	positives := map[string][]pos{} // per user, in time order
	firstSeen := map[string]int64{}
	for i := range evs {
		e := &evs[i]
		if _, ok := firstSeen[e.UserID]; !ok {
			firstSeen[e.UserID] = e.Time
		}
		if slices.Contains(o.Positives, e.Type) {
			positives[e.UserID] = append(positives[e.UserID], pos{e.Time, e.ProductID})
		}
	}
	// The users of each cut: earlier events, and positives in its window.
	type cutUsers struct {
		cut   int64
		users []string
	}
	var plan []cutUsers
	total := 0
	for _, c := range cuts {
		var us []string
		for u, ps := range positives {
			if firstSeen[u] >= c {
				continue
			}
			k, _ := slices.BinarySearchFunc(ps, c, func(p pos, t int64) int { return cmp.Compare(p.t, t) })
			if k < len(ps) && ps[k].t < c+horizon {
				us = append(us, u)
			}
		}
		slices.Sort(us)
		plan = append(plan, cutUsers{c, us})
		total += len(us)
	}
	keep := 1.0
	if total > o.MaxQueries {
		keep = float64(o.MaxQueries) / float64(total)
	}
	var out []Query
	var rec event.Record
	i := 0
	for _, p := range plan {
		for ; i < len(evs) && evs[i].Time < p.cut; i++ {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if o.Progress != nil {
					o.Progress(i, len(evs))
				}
			}
			*now = evs[i].Time
			rec.Kind = event.KindEvent
			rec.Event = evs[i]
			st.Apply(&rec)
		}
		*now = p.cut
		st.RefreshIndex()
		for _, u := range p.users {
			if rng.Float64() >= keep {
				continue
			}
			ps := positives[u]
			k, _ := slices.BinarySearchFunc(ps, p.cut, func(x pos, t int64) int { return cmp.Compare(x.t, t) })
			var chosen []string
			for ; k < len(ps) && ps[k].t < p.cut+horizon; k++ {
				if !slices.Contains(chosen, ps[k].id) {
					chosen = append(chosen, ps[k].id)
				}
			}
			if q, ok := queryAt(ctx, st, sources, u, "", chosen, p.cut, o, rng); ok {
				out = append(out, q)
			}
		}
	}
	return out, ctx.Err()
}

// queryAt builds one query for a user at now: the candidates the sources
// propose, the chosen items labelled 1, and a sample of the others.
func queryAt(ctx context.Context, st *memstore.Store, sources []candidate.Source, userID, sessionID string, chosenIDs []string, now int64, o HistoryOptions, rng *rand.Rand) (Query, bool) {
	user, _ := st.User(userID)
	var topCats []feature.CatAffinity
	if user != nil {
		topCats = user.TopCategories(5, now, &o.Features)
	}
	ix := st.Index()
	in := &candidate.Input{User: user, TopCats: topCats, SessionID: sessionID, Now: now, Index: ix}
	var lists [][]candidate.Candidate
	for _, src := range sources {
		k := o.Candidates
		switch src.Name() {
		case candidate.SrcPopular, candidate.SrcTrending:
			k = min(k, 40) // as serving asks
		}
		l, err := src.Candidates(ctx, in, k)
		if err == nil {
			lists = append(lists, l)
		}
	}
	cands := candidate.Merge(lists...)
	if !o.RepeatPurchase && user != nil && len(user.Bought) > 0 {
		cands = slices.DeleteFunc(cands, func(c candidate.Candidate) bool { return user.Bought[c.ID] > 0 })
	}
	var pos, rest []candidate.Candidate
	for _, c := range cands {
		if slices.Contains(chosenIDs, c.ID) {
			pos = append(pos, c)
		} else {
			rest = append(rest, c)
		}
	}
	if len(pos) == 0 || len(cands) < 2 {
		return Query{}, false
	}
	// Keep the positives and a random sample of the negatives.
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	if len(rest) > o.MaxNegatives {
		rest = rest[:o.MaxNegatives]
	}
	chosen := append(pos, rest...)
	ids := make([]string, len(chosen))
	for i, c := range chosen {
		ids[i] = c.ID
	}
	products := make([]*feature.Product, len(chosen))
	st.Products(ids, products)
	slate := &rank.Slate{User: user, TopCats: topCats, Now: now, Items: chosen, Products: products, MaxPop: ix.MaxPop, Opt: &o.Features}
	rank.BuildVectors(slate)
	labels := make([]float32, len(chosen))
	for i := range pos {
		labels[i] = 1
	}
	return Query{Time: now, UserID: userID, X: slate.Flat, Labels: labels}, true
}
