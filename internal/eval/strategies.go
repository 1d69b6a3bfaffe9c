package eval

import (
	"fmt"
	"time"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/rank/gbdt"
	"github.com/recohq/reco/internal/rerank"
)

// RetailDefaults fills the Online Retail hyperparameters not set, each
// chosen on the validation month (2011-10-09..11-08, EVALUATION.md), never
// on the test split: the popularity windows are the README's; the EASE
// lambda of ease and ease_pop (1 for "all", 500 for "novel") and the blend
// weight 0.5 from a grid; the full pipeline's training queries from the
// last 90 days only, their similar-items tables rebuilt every 30 days as
// of their time, the table's lambda 2000, the GBDT's eta 0.03 (up to 500
// rounds, early-stopped).
func RetailDefaults(p *Params, variant string) {
	if p.EASELambda == 0 {
		p.EASELambda = 1
		if variant == "novel" {
			p.EASELambda = 500
		}
	}
	if p.SimLambda == 0 {
		p.SimLambda = 2000
	}
	if p.PopWindow == 0 {
		p.PopWindow = 30 * 24 * time.Hour
		if variant == "novel" {
			p.PopWindow = 14 * 24 * time.Hour
		}
	}
	if p.EASEPop == 0 {
		p.EASEPop = 0.5
	}
	if p.TrainSpan == 0 {
		p.TrainSpan = 90 * 24 * time.Hour
	}
	if p.SimEvery == 0 {
		p.SimEvery = 30 * 24 * time.Hour
	}
	if p.GBDTEta == 0 {
		p.GBDTEta = 0.03
	}
	if p.GBDTRounds == 0 {
		p.GBDTRounds = 500
	}
}

// TaobaoDefaults fills the Taobao hyperparameters not set, chosen on the
// validation split (one training buy per user held out): EASE lambda 10,
// for ease and the similar-items table alike.
func TaobaoDefaults(p *Params) {
	if p.EASELambda == 0 {
		p.EASELambda = 10
	}
}

// NewStrategy returns the named strategy, or nil when it means nothing on
// ds (popular_recent and ease_pop need timestamps).
func NewStrategy(name string, p Params, ds *Dataset, logf func(string, ...any)) (Strategy, error) {
	all := p
	all.PopWindow = 0
	timed := ds.protocol == "temporal"
	switch name {
	case "popular":
		return &Popular{P: all}, nil
	case "popular_recent":
		if !timed {
			return nil, nil
		}
		return &Popular{P: p, Label: "popular_recent"}, nil
	case "category_popular":
		return &CategoryPopular{P: all}, nil
	case "covisit":
		return &CoVisit{P: all}, nil
	case "history":
		return &History{P: all}, nil
	case "ease":
		q := p
		q.EASEPop = 0
		return &EASE{P: q}, nil
	case "ease_pop":
		if !timed {
			return nil, nil
		}
		return &EASE{P: p, Label: "ease_pop"}, nil
	case "full_rules":
		return &Full{Log: logf, Similar: similarOptions(p)}, nil
	case "full":
		f := &Full{GBDT: true, Log: logf, Similar: similarOptions(p), Queries: p.Queries, Negatives: p.Negatives, Objective: p.Objective,
			Snapshot: p.Snapshot, Horizon: p.Horizon, TrainSpan: p.TrainSpan, SimilarEvery: p.SimEvery, Seed: p.Seed, Rerank: rerank.Options{MaxPerCategory: p.MaxPerCat}}
		f.Features.RecentItems = p.RecentItems
		f.Tree = gbdt.Params{Rounds: p.GBDTRounds, MaxDepth: p.GBDTDepth, Eta: p.GBDTEta, MinChildWeight: p.GBDTMinHess}
		return f, nil
	case "full_nosim":
		return &Full{Label: name, GBDT: true, Log: logf, Queries: p.Queries, Negatives: p.Negatives, Objective: p.Objective}, nil
	case "full_rules_nosim":
		return &Full{Label: name, Log: logf}, nil
	}
	if s := experiment(name, logf); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("unknown strategy %q", name)
}

// similarOptions are the similar-items source's EASE table options from
// the EASE hyperparameters (SimLambda, else EASELambda).
func similarOptions(p Params) *candidate.SimilarOptions {
	q := p.withDefaults()
	lambda := q.SimLambda
	if lambda == 0 {
		lambda = q.EASELambda
	}
	return &candidate.SimilarOptions{Items: q.EASEItems, Lambda: lambda, Neighbors: q.Neighbors, Threads: q.Threads}
}
