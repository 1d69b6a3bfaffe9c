package eval

import (
	"cmp"
	"context"
	"slices"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/recommend"
)

// BuyAgain is an experimental candidate source (not in serving): the
// user's purchased items by purchase count. It reports its candidates
// under the history source's slot, so the ranker's features see them as
// history items.
type BuyAgain struct{}

func (BuyAgain) Name() string { return candidate.SrcHistory }

func (BuyAgain) Candidates(_ context.Context, in *candidate.Input, n int) ([]candidate.Candidate, error) {
	if in.User == nil {
		return nil, nil
	}
	var out []candidate.Candidate
	for id, c := range in.User.Bought {
		cd := candidate.Candidate{ID: id, Source: candidate.SrcHistory}
		cd.Scores[candidate.SourceIndex(candidate.SrcHistory)] = float32(c)
		out = append(out, cd)
	}
	slices.SortFunc(out, func(a, b candidate.Candidate) int {
		if c := cmp.Compare(b.Scores[1], a.Scores[1]); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// experiments are eval-side variants of the serving pipeline, measuring a
// proposed serving change without making it.
func experiment(name string, logf func(string, ...any)) Strategy {
	switch name {
	case "exp_recent100", "exp_recent100_gbdt":
		// feature.Options.RecentItems 20 -> 100: the history source sees
		// more of the user's viewed and carted items.
		f := &Full{Label: name, GBDT: name == "exp_recent100_gbdt", Log: logf}
		f.Features.RecentItems = 100
		return f
	case "exp_buyagain", "exp_buyagain_gbdt":
		// A buy-again candidate source added to the serving mix.
		return &Full{Label: name, GBDT: name == "exp_buyagain_gbdt", Log: logf, Sources: func(st *memstore.Store, _ *Dataset) []candidate.Source {
			return append(recommend.DefaultSources(st, false), BuyAgain{})
		}}
	}
	return nil
}
