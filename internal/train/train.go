package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/rank"
	"github.com/recohq/reco/internal/rank/gbdt"
	"github.com/recohq/reco/internal/recommend"
	"github.com/recohq/reco/internal/registry"
)

// Options configure a training run.
type Options struct {
	Scan       Scan
	Registry   *registry.Registry
	Params     gbdt.Params   // zero fields take the case study's values (depth 8, eta 0.1, 200 rounds, subsample and colsample 0.8)
	Window     time.Duration // attribution window for impressions; 0 means 1h
	Labels     LabelWeights
	MinQueries int     // labelled impression queries needed to train on served traffic; 0 means 200
	ValidShare float64 // the latest share of queries held out for evaluation; 0 means 0.2
	History    HistoryOptions
	// Similar builds the EASE similar-items table from the log's behaviour
	// events; the table is a candidate source in serving and in the
	// replayed training queries. Nil disables it.
	Similar *candidate.SimilarOptions
	// HistorySpan, when > 0 with Similar on a time-ordered log (not
	// History.LeaveOneOut), builds history queries only in the last
	// HistorySpan of the log, their similar-items source reading tables
	// rebuilt every SimilarEvery (0 means HistorySpan) from the events
	// before each rebuild (ReplaySimilar): as serving's table would have
	// been, so no query's similar scores have seen its own purchases. 0
	// keeps every query and one table from every event (Online Retail
	// "novel" validation NDCG@10 0.107 instead of 0.114 with 90 days,
	// EVALUATION.md).
	HistorySpan, SimilarEvery time.Duration
	// RepeatPurchase mirrors serving's recommend.repeat_purchase.
	RepeatPurchase bool
	Features       feature.Options
	Now            func() time.Time
	Log            func(format string, args ...any) // progress; nil means silent
}

// Result describes a trained and registered model.
type Result struct {
	Meta     registry.Meta
	Model    *gbdt.Model
	Report   gbdt.Report
	Source   string // "impressions" or "history"
	Queries  int
	Duration time.Duration
}

func (o Options) withDefaults() Options {
	p := o.Params
	if p.Objective == "" {
		p.Objective = gbdt.BinaryLogistic
	}
	if p.MaxDepth == 0 {
		p.MaxDepth = 8
	}
	if p.Eta == 0 {
		p.Eta = 0.1
	}
	if p.Rounds == 0 {
		p.Rounds = 200
	}
	if p.Subsample == 0 {
		p.Subsample = 0.8
	}
	if p.ColsampleByTree == 0 {
		p.ColsampleByTree = 0.8
	}
	if p.MinChildWeight == 0 {
		p.MinChildWeight = 1
	}
	if p.Lambda == 0 {
		p.Lambda = 1
	}
	if p.EarlyStoppingRounds == 0 {
		p.EarlyStoppingRounds = 20
	}
	o.Params = p
	if o.Window == 0 {
		o.Window = time.Hour
	}
	if o.MinQueries == 0 {
		o.MinQueries = 200
	}
	if o.ValidShare == 0 {
		o.ValidShare = 0.2
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	o.History.Features = o.Features
	return o
}

// SimilarFile is the name of a version's similar-items table in the
// registry.
const SimilarFile = "similar.bin"

// ErrNoData means the log holds too little to train on.
var ErrNoData = errors.New("not enough data to train")

// Queries builds the training set: served impressions when enough of them
// carry a label, else queries replayed from history. It reports which.
func Queries(ctx context.Context, o Options) ([]Query, string, error) {
	qs, source, _, err := queries(ctx, o)
	return qs, source, err
}

func queries(ctx context.Context, o Options) ([]Query, string, candidate.SimilarTable, error) {
	o = o.withDefaults()
	queries, err := FromImpressions(o.Scan, o.Window, o.Labels)
	if err != nil {
		return nil, "", nil, fmt.Errorf("train: read impressions: %w", err)
	}
	var evs []event.Event
	readEvents := func() error {
		if evs != nil {
			return nil
		}
		evs = []event.Event{}
		return o.Scan(func(r *event.Record) error {
			if r.Kind == event.KindEvent {
				evs = append(evs, r.Event)
			}
			return nil
		})
	}
	var table candidate.SimilarTable
	if o.Similar != nil {
		if err := readEvents(); err != nil {
			return nil, "", nil, fmt.Errorf("train: read events: %w", err)
		}
		o.Log("building the similar-items table (EASE) from %d events", len(evs))
		if table, err = candidate.BuildSimilar(ctx, evs, *o.Similar); err != nil {
			return nil, "", nil, fmt.Errorf("train: similar items: %w", err)
		}
	}
	labelled := 0
	for _, q := range queries {
		for _, l := range q.Labels {
			if l > 0 {
				labelled++
				break
			}
		}
	}
	source := "impressions"
	o.Log("training set: %d impressions, %d with an attributed click, add-to-cart or purchase", len(queries), labelled)
	if labelled < o.MinQueries {
		if err := readEvents(); err != nil {
			return nil, "", nil, fmt.Errorf("train: read events: %w", err)
		}
		o.Log("too few labelled impressions (%d < %d): building queries from %d history events", labelled, o.MinQueries, len(evs))
		source = "history"
		last := time.Now()
		o.History.Progress = func(done, total int) {
			if time.Since(last) > 2*time.Second {
				last = time.Now()
				o.Log("  replayed %d/%d events", done, total)
			}
		}
		h := o.History
		h.RepeatPurchase = o.RepeatPurchase
		if table != nil {
			var end int64
			for i := range evs {
				end = max(end, evs[i].Time+1)
			}
			src, from, err := ReplaySimilar(ctx, evs, *o.Similar, h, o.HistorySpan, o.SimilarEvery, end, table)
			if err != nil {
				return nil, "", nil, fmt.Errorf("train: similar items of the history queries: %w", err)
			}
			h.From = max(h.From, from)
			repeat := o.RepeatPurchase
			h.Sources = func(st *memstore.Store) []candidate.Source {
				return append(recommend.DefaultSources(st, repeat), src)
			}
		}
		queries, err = FromHistory(ctx, evs, h)
		if err != nil {
			return nil, "", nil, fmt.Errorf("train: history: %w", err)
		}
	}
	return queries, source, table, nil
}

// Run builds the training set, trains, evaluates on the latest time slice
// and registers a new model version (not promoted).
func Run(ctx context.Context, o Options) (*Result, error) {
	o = o.withDefaults()
	start := time.Now()
	queries, source, table, err := queries(ctx, o)
	if err != nil {
		return nil, err
	}
	if len(queries) < 10 {
		return nil, reco.E("train.Run", reco.Conflict, fmt.Errorf("%w: %d queries", ErrNoData, len(queries)))
	}
	cut := int(float64(len(queries)) * (1 - o.ValidShare))
	trainSet, validSet := toDataset(queries[:cut], o.Params.Objective), toDataset(queries[cut:], o.Params.Objective)
	if !hasBothClasses(trainSet.Labels) || !hasBothClasses(validSet.Labels) {
		return nil, reco.E("train.Run", reco.Conflict, fmt.Errorf("%w: the training or the evaluation slice has only one label", ErrNoData))
	}
	o.Log("training %s on %d rows (%d queries), evaluating on the latest %d rows (%d queries)",
		o.Params.Objective, trainSet.Rows(), cut, validSet.Rows(), len(queries)-cut)
	p := o.Params
	lastLog := time.Now()
	p.OnRound = func(r gbdt.RoundResult) {
		if time.Since(lastLog) > time.Second || r.Round == 0 {
			lastLog = time.Now()
			o.Log("  round %d: %s", r.Round+1, fmtMetrics(r.Metrics))
		}
	}
	model, rep, err := gbdt.Train(ctx, p, trainSet, validSet)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	metrics := Evaluate(model, validSet)
	if err := rank.Validate(model, probeRows(validSet)); err != nil {
		return nil, reco.E("train.Run", reco.Invalid, fmt.Errorf("trained model fails validation: %w", err))
	}
	now := o.Now()
	meta := registry.Meta{
		Version: o.Registry.NewVersion("gbdt", now), Created: now.UTC(), Source: "train:" + source,
		Params: map[string]any{"objective": string(p.Objective), "max_depth": p.MaxDepth, "eta": p.Eta, "rounds": p.Rounds,
			"subsample": p.Subsample, "colsample_bytree": p.ColsampleByTree, "min_child_weight": p.MinChildWeight,
			"lambda": p.Lambda, "alpha": p.Alpha, "gamma": p.Gamma, "max_bin": p.MaxBin, "best_iteration": rep.BestIteration},
		DataFrom: time.UnixMilli(queries[0].Time).UTC(), DataTo: time.UnixMilli(queries[len(queries)-1].Time).UTC(),
		TrainRows: trainSet.Rows(), ValidRows: validSet.Rows(), Metrics: metrics,
		SchemaHash: rank.SchemaHash(), FeatureNames: rank.FeatureNames,
	}
	var extras map[string][]byte
	if table != nil {
		b, err := table.Encode()
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		extras = map[string][]byte{SimilarFile: b}
	}
	if meta, err = o.Registry.Register(model, meta, extras); err != nil {
		return nil, err
	}
	return &Result{Meta: meta, Model: model, Report: rep, Source: source, Queries: len(queries), Duration: time.Since(start)}, nil
}

func toDataset(qs []Query, obj gbdt.Objective) *gbdt.Dataset {
	d := &gbdt.Dataset{Features: rank.NumFeatures, FeatureNames: rank.FeatureNames}
	for _, q := range qs {
		d.X = append(d.X, q.X...)
		for _, l := range q.Labels {
			if obj == gbdt.BinaryLogistic && l > 0 {
				l = 1
			}
			d.Labels = append(d.Labels, l)
		}
		d.Groups = append(d.Groups, q.Rows())
	}
	return d
}

func hasBothClasses(labels []float32) bool {
	pos, neg := false, false
	for _, l := range labels {
		if l > 0 {
			pos = true
		} else {
			neg = true
		}
	}
	return pos && neg
}

func probeRows(d *gbdt.Dataset) []float32 {
	n := min(d.Rows(), 1000)
	return d.X[:n*d.Features]
}

// Evaluate scores a model on a dataset: AUC and log loss of "any positive"
// labels, and NDCG@10 over its query groups with graded labels.
func Evaluate(m *gbdt.Model, d *gbdt.Dataset) map[string]float64 {
	pred := make([]float64, d.Rows())
	if err := m.Predict(d.X, d.Features, pred); err != nil {
		return map[string]float64{}
	}
	bin := make([]float32, len(d.Labels))
	for i, l := range d.Labels {
		if l > 0 {
			bin[i] = 1
		}
	}
	out := map[string]float64{"auc": gbdt.AUC(bin, pred), "ndcg@10": gbdt.NDCG(d.Labels, pred, d.Groups, 10)}
	if m.Objective() == gbdt.BinaryLogistic {
		out["logloss"] = gbdt.LogLoss(bin, pred)
	}
	for k, v := range out {
		if math.IsNaN(v) {
			delete(out, k)
		}
	}
	return out
}

func fmtMetrics(ms []gbdt.Metric) string {
	s := ""
	for i, m := range ms {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s %.4f", m.Name, m.Value)
	}
	return s
}
