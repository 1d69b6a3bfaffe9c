package eval

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/rank"
	"github.com/recohq/reco/internal/rank/gbdt"
	"github.com/recohq/reco/internal/recommend"
	"github.com/recohq/reco/internal/rerank"
	"github.com/recohq/reco/internal/train"
)

// Full runs the serving pipeline itself: recommend.Service (candidates ->
// features -> rank -> rerank) over a memstore built by applying the
// training events, with its clock at the split time. With GBDT set, the
// ranker is a GBDT trained on train.FromHistory queries replayed from the
// training events only, early-stopped on the latest 20% of those queries
// (a validation slice carved from training); else the rule-based ranker.
type Full struct {
	Label    string
	GBDT     bool
	Features feature.Options // zero: the serving defaults
	Rerank   rerank.Options  // AllowPurchased is set from the variant
	// Sources, when set, replaces the serving candidate mix (experiments).
	Sources func(st *memstore.Store, ds *Dataset) []candidate.Source
	// Similar, when set, adds a candidate.Similar source (an EASE
	// neighbour table built from the training events by
	// candidate.BuildSimilar) to the mix, in serving and in the GBDT's
	// training queries alike.
	Similar *candidate.SimilarOptions
	// Queries is how many training queries the GBDT is trained on; 0
	// means 15,000.
	Queries int
	// Negatives is how many negatives each training query keeps; 0 means
	// train's default (100).
	Negatives int
	// Objective is the GBDT's; "" means binary:logistic.
	Objective string
	// Snapshot and Horizon, when Snapshot > 0, build the GBDT's training
	// queries at snapshot times with a label window
	// (train.HistoryOptions.Snapshot) instead of at baskets.
	Snapshot, Horizon time.Duration
	// TrainSpan, when > 0 on a time-ordered log, builds training queries
	// only in the TrainSpan before the split, and their similar-items
	// source reads tables rebuilt every SimilarEvery (0: TrainSpan) from
	// the events before each rebuild (train.SimilarAsOf), as serving's
	// table would have been; else queries from the whole log and one table
	// from every training event (which has seen each query's purchases).
	TrainSpan, SimilarEvery time.Duration
	// Seed varies the training queries' sample and the GBDT's (0: the
	// default seeds).
	Seed uint64
	// Tree overrides the GBDT's parameters where not zero (Objective,
	// MaxDepth, Eta, Rounds, MinChildWeight, Lambda); the rest are
	// trainRanker's.
	Tree gbdt.Params
	Log  func(format string, args ...any)

	ds    *Dataset
	svc   *recommend.Service
	index map[string]int32
}

func (s *Full) Name() string {
	if s.Label != "" {
		return s.Label
	}
	if s.GBDT {
		return "full"
	}
	return "full_rules"
}

// Events returns the training interactions as events in time order.
func (ds *Dataset) Events() []event.Event {
	evs := make([]event.Event, len(ds.Train))
	for k, x := range ds.Train {
		evs[k] = event.Event{Type: x.Type, UserID: ds.Users[x.User], ProductID: ds.Items[x.Item], Category: ds.Cat[x.Item],
			Price: x.Price, Quantity: max(x.Qty, 1), Time: x.Time}
	}
	return evs
}

func (s *Full) logf(format string, args ...any) {
	if s.Log != nil {
		s.Log(format, args...)
	}
}

func (s *Full) Fit(ctx context.Context, ds *Dataset) error {
	s.ds = ds
	fo := s.Features.WithDefaults()
	split := ds.Split
	st := memstore.New(memstore.Options{Features: fo, Now: func() time.Time { return split }})
	var rec event.Record
	for i := range ds.Products {
		rec = event.Record{Kind: event.KindProduct, Product: ds.Products[i]}
		st.Apply(&rec)
	}
	evs := ds.Events()
	for i := range evs {
		rec = event.Record{Kind: event.KindEvent, Event: evs[i]}
		st.Apply(&rec)
	}
	st.RefreshIndex()
	repeat := ds.Variant == "all"
	var table candidate.SimilarTable
	if s.Similar != nil {
		t0 := time.Now()
		var err error
		if table, err = candidate.BuildSimilar(ctx, evs, *s.Similar); err != nil {
			return err
		}
		s.logf("  similar: EASE table over %d items (%d items, lambda %g, %d neighbours) in %s", len(table),
			s.Similar.Items, s.Similar.Lambda, s.Similar.Neighbors, time.Since(t0).Round(time.Millisecond))
	}
	// The candidate mix: serving's, plus the similar-items source when
	// set; the GBDT's training queries use exactly the same one.
	mixWith := func(table candidate.SimilarTable) func(st *memstore.Store) []candidate.Source {
		return func(st *memstore.Store) []candidate.Source {
			var out []candidate.Source
			if s.Sources != nil {
				out = s.Sources(st, ds)
			} else {
				out = recommend.DefaultSources(st, repeat)
			}
			if table != nil {
				out = append(out, candidate.Similar{Table: table})
			}
			return out
		}
	}
	mix := mixWith(table)
	var rankers func(string) []rank.Ranker
	if s.GBDT {
		positives := []event.Type{event.Purchase}
		loo := ds.protocol == "holdout"
		ho := train.HistoryOptions{Features: fo, Positives: positives, MaxQueries: s.Queries, MaxNegatives: s.Negatives, Seed: 1 + s.Seed,
			Sources: mix, RepeatPurchase: repeat, LeaveOneOut: loo, Snapshot: s.Snapshot, Horizon: s.Horizon}
		if s.Similar != nil {
			// The training queries' similar-items source must not have seen
			// their labels: leave-one-out, a table without the held-out
			// buys; a timed log, tables as of the queries' time.
			t0 := time.Now()
			src, from, err := train.ReplaySimilar(ctx, evs, *s.Similar, ho, s.TrainSpan, s.SimilarEvery, split.UnixMilli(), table)
			if err != nil {
				return err
			}
			ho.From = from
			ho.Sources = func(st *memstore.Store) []candidate.Source { return append(mixWith(nil)(st), src) }
			s.logf("  similar: training queries' source %T built in %s", src, time.Since(t0).Round(time.Millisecond))
		} else if !loo && s.TrainSpan > 0 {
			ho.From = split.Add(-s.TrainSpan).UnixMilli()
		}
		if ho.MaxQueries == 0 {
			ho.MaxQueries = 15000
		}
		tp := s.Tree
		tp.Objective, tp.Seed = gbdt.Objective(s.Objective), 1+s.Seed
		m, err := trainRanker(ctx, evs, ho, tp, s.logf)
		if err != nil {
			return err
		}
		r := []rank.Ranker{&rank.Model{M: m, V: "gbdt-eval"}}
		rankers = func(string) []rank.Ranker { return r }
	}
	ro := s.Rerank
	ro.AllowPurchased = repeat
	o := recommend.Options{Features: fo, Rankers: rankers, Rerank: ro, Now: func() time.Time { return split }, Sources: mix(st)}
	s.svc = recommend.New(st, nil, o)
	s.index = make(map[string]int32, len(ds.Items))
	for i, id := range ds.Items {
		s.index[id] = int32(i)
	}
	return nil
}

func (s *Full) Score(u int32, out []float64) {
	resp, err := s.svc.Recommend(context.Background(), recommend.Request{UserID: s.ds.Users[u], N: 20})
	if err != nil {
		return
	}
	for k, it := range resp.Items {
		if i, ok := s.index[it.ProductID]; ok {
			out[i] = float64(len(resp.Items) - k)
		}
	}
}

// trainRanker trains the pipeline's GBDT the way `reco train` does on an
// imported log: queries from train.FromHistory (purchases as positives;
// leave-one-out on a log without real time), time-ordered, the latest
// 20% for early stopping.
func trainRanker(ctx context.Context, evs []event.Event, ho train.HistoryOptions, tp gbdt.Params, logf func(string, ...any)) (*gbdt.Model, error) {
	p := gbdt.Params{Objective: gbdt.BinaryLogistic, MaxDepth: 6, Eta: 0.1, Rounds: 150, Subsample: 0.8,
		ColsampleByTree: 0.8, MinChildWeight: 1, Lambda: 1, EarlyStoppingRounds: 20, Seed: tp.Seed}
	if tp.Objective != "" {
		p.Objective = tp.Objective
	}
	if tp.MaxDepth != 0 {
		p.MaxDepth = tp.MaxDepth
	}
	if tp.Eta != 0 {
		p.Eta = tp.Eta
	}
	if tp.Rounds != 0 {
		p.Rounds = tp.Rounds
	}
	if tp.MinChildWeight != 0 {
		p.MinChildWeight = tp.MinChildWeight
	}
	if tp.Lambda != 0 {
		p.Lambda = tp.Lambda
	}
	t0 := time.Now()
	qs, err := train.FromHistory(ctx, evs, ho)
	if err != nil {
		return nil, err
	}
	if len(qs) < 10 {
		return nil, fmt.Errorf("only %d training queries", len(qs))
	}
	slices.SortStableFunc(qs, func(a, b train.Query) int { return cmpInt(a.Time, b.Time) })
	cut := len(qs) * 8 / 10
	tr, va := toDataset(qs[:cut]), toDataset(qs[cut:])
	m, rep, err := gbdt.Train(ctx, p, tr, va)
	if err != nil {
		return nil, err
	}
	logf("  gbdt: %d queries (%d rows), best round %d, valid %s %.4f, %s", len(qs), tr.Rows()+va.Rows(),
		rep.BestIteration+1, firstMetric(rep), rep.BestScore, time.Since(t0).Round(time.Millisecond))
	imp := m.Importance()
	slices.SortFunc(imp, func(a, b gbdt.FeatureImportance) int { return cmp.Compare(b.TotalGain, a.TotalGain) })
	var total float64
	for _, f := range imp {
		total += f.TotalGain
	}
	var top []string
	for _, f := range imp[:min(8, len(imp))] {
		top = append(top, fmt.Sprintf("%s %.0f%%", f.Name, 100*f.TotalGain/total))
	}
	logf("  gbdt: gain by feature: %s", strings.Join(top, ", "))
	return m, nil
}

func firstMetric(rep gbdt.Report) string {
	if len(rep.History) > 0 && len(rep.History[0].Metrics) > 0 {
		return rep.History[0].Metrics[0].Name
	}
	return "metric"
}

func toDataset(qs []train.Query) *gbdt.Dataset {
	d := &gbdt.Dataset{Features: rank.NumFeatures, FeatureNames: rank.FeatureNames}
	for _, q := range qs {
		d.X = append(d.X, q.X...)
		for _, l := range q.Labels {
			d.Labels = append(d.Labels, min(l, 1))
		}
		d.Groups = append(d.Groups, q.Rows())
	}
	return d
}
