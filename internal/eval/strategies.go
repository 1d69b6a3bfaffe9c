package eval

import (
	"fmt"
	"time"

	"github.com/recohq/reco/internal/candidate"
)

// RetailDefaults fills the Online Retail hyperparameters not set. The
// popularity windows are the README's (tuned there on the validation
// month); lambda and the blend weight are untuned first choices: tune
// them with --validation (EVALUATION.md), never on the test split.
func RetailDefaults(p *Params, variant string) {
	if p.EASELambda == 0 {
		p.EASELambda = 200
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
}

// TaobaoDefaults fills the Taobao hyperparameters not set: an untuned
// first choice; tune with --validation (EVALUATION.md).
func TaobaoDefaults(p *Params) {
	if p.EASELambda == 0 {
		p.EASELambda = 200
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
		return &Full{GBDT: true, Log: logf, Similar: similarOptions(p), Queries: p.Queries, Negatives: p.Negatives, Objective: p.Objective}, nil
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
// the EASE hyperparameters.
func similarOptions(p Params) *candidate.SimilarOptions {
	q := p.withDefaults()
	return &candidate.SimilarOptions{Items: q.EASEItems, Lambda: q.EASELambda, Neighbors: q.Neighbors, Threads: q.Threads}
}
