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
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/rank"
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
	Candidates   int          // candidates per source; 0 means 50
	MaxNegatives int          // negatives kept per query; 0 means 30
	Seed         uint64
	Progress     func(done, total int)
}

// FromHistory replays behaviour events in event-time order and builds a
// query at each positive event from the candidates the sources propose at
// that moment (queries whose chosen item was not proposed are skipped:
// serving could not have ranked it either).
func FromHistory(ctx context.Context, events []event.Event, o HistoryOptions) ([]Query, error) {
	if o.Positives == nil {
		o.Positives = []event.Type{event.Click, event.AddToCart, event.Purchase}
	}
	if o.MaxQueries == 0 {
		o.MaxQueries = 50000
	}
	if o.Candidates == 0 {
		o.Candidates = 50
	}
	if o.MaxNegatives == 0 {
		o.MaxNegatives = 30
	}
	o.Features = o.Features.WithDefaults()
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b event.Event) int { return int(a.Time - b.Time) })
	positive := 0
	for i := range evs {
		if slices.Contains(o.Positives, evs[i].Type) {
			positive++
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x7261696e))
	keep := 1.0
	if positive > o.MaxQueries {
		keep = float64(o.MaxQueries) / float64(positive)
	}
	var now int64
	st := memstore.New(memstore.Options{Features: o.Features, Now: func() time.Time { return time.UnixMilli(now) }})
	sources := []candidate.Source{candidate.CoVisitation{Store: st}, candidate.History{}, candidate.CategoryPopular{}, candidate.Trending{}, candidate.Popular{}}
	var lastIndex int64
	var out []Query
	var rec event.Record
	for i := range evs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if o.Progress != nil {
				o.Progress(i, len(evs))
			}
		}
		e := &evs[i]
		now = e.Time
		if now-lastIndex > 10*60*1000 { // the index as serving would have it: at most 10 minutes old
			st.RefreshIndex()
			lastIndex = now
		}
		if slices.Contains(o.Positives, e.Type) && rng.Float64() < keep {
			if q, ok := queryAt(ctx, st, sources, e, now, o, rng); ok {
				out = append(out, q)
			}
		}
		rec.Kind = event.KindEvent
		rec.Event = *e
		st.Apply(&rec)
	}
	return out, nil
}

func queryAt(ctx context.Context, st *memstore.Store, sources []candidate.Source, e *event.Event, now int64, o HistoryOptions, rng *rand.Rand) (Query, bool) {
	user, _ := st.User(e.UserID)
	var topCats []feature.CatAffinity
	if user != nil {
		topCats = user.TopCategories(5, now, &o.Features)
	}
	ix := st.Index()
	in := &candidate.Input{User: user, TopCats: topCats, SessionID: e.SessionID, Now: now, Index: ix}
	var lists [][]candidate.Candidate
	for _, src := range sources {
		l, err := src.Candidates(ctx, in, o.Candidates)
		if err == nil {
			lists = append(lists, l)
		}
	}
	cands := candidate.Merge(lists...)
	pos := -1
	for i, c := range cands {
		if c.ID == e.ProductID {
			pos = i
			break
		}
	}
	if pos < 0 || len(cands) < 2 {
		return Query{}, false
	}
	// Keep the positive and a random sample of the negatives.
	chosen := []candidate.Candidate{cands[pos]}
	rest := append(slices.Clone(cands[:pos]), cands[pos+1:]...)
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	if len(rest) > o.MaxNegatives {
		rest = rest[:o.MaxNegatives]
	}
	chosen = append(chosen, rest...)
	ids := make([]string, len(chosen))
	for i, c := range chosen {
		ids[i] = c.ID
	}
	products := make([]*feature.Product, len(chosen))
	st.Products(ids, products)
	slate := &rank.Slate{User: user, TopCats: topCats, Now: now, Items: chosen, Products: products, MaxPop: ix.MaxPop, Opt: &o.Features}
	rank.BuildVectors(slate)
	labels := make([]float32, len(chosen))
	labels[0] = 1
	return Query{Time: now, UserID: e.UserID, X: slate.Flat, Labels: labels}, true
}
