package candidate

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature/memstore"
)

// Popular proposes the most popular in-stock items overall.
type Popular struct{}

func (Popular) Name() string { return SrcPopular }

func (Popular) Candidates(_ context.Context, in *Input, n int) ([]Candidate, error) {
	return fromIndex(in.Index.Global, SrcPopular, n, in.Index.MaxPop), nil
}

// Trending proposes items whose recent popularity outruns their long-run one.
type Trending struct{}

func (Trending) Name() string { return SrcTrending }

func (Trending) Candidates(_ context.Context, in *Input, n int) ([]Candidate, error) {
	top := 0.0
	if len(in.Index.Trending) > 0 {
		top = in.Index.Trending[0].Score
	}
	return fromIndex(in.Index.Trending, SrcTrending, n, top), nil
}

// CategoryPopular proposes the most popular items of the user's strongest
// categories, shared out by affinity.
type CategoryPopular struct {
	Categories int // how many of the user's categories; 0 means 3
}

func (CategoryPopular) Name() string { return SrcCategoryPopular }

func (c CategoryPopular) Candidates(_ context.Context, in *Input, n int) ([]Candidate, error) {
	k := c.Categories
	if k == 0 {
		k = 3
	}
	cats := in.TopCats
	if len(cats) > k {
		cats = cats[:k]
	}
	var sum float64
	for _, ca := range cats {
		sum += ca.Affinity
	}
	var out []Candidate
	for _, ca := range cats {
		share := n / len(cats)
		if sum > 0 {
			share = int(float64(n)*ca.Affinity/sum + 0.5)
		}
		list := in.Index.ByCategory[ca.Category]
		top := 0.0
		if len(list) > 0 {
			top = list[0].Score
		}
		out = append(out, fromIndex(list, SrcCategoryPopular, max(share, 5), top)...)
	}
	return out, nil
}

// CoVisitation proposes items often seen with the user's recent items.
type CoVisitation struct {
	Store   CoVisitReader
	Seeds   int // recent items to start from; 0 means 10
	PerSeed int // neighbours per seed; 0 means 20
}

func (CoVisitation) Name() string { return SrcCoVisit }

func (c CoVisitation) Candidates(_ context.Context, in *Input, n int) ([]Candidate, error) {
	if in.User == nil || len(in.User.Recent) == 0 {
		return nil, nil
	}
	seeds, per := c.Seeds, c.PerSeed
	if seeds == 0 {
		seeds = 10
	}
	if per == 0 {
		per = 20
	}
	type agg struct {
		score float64
		via   string
		best  float64
	}
	acc := map[string]*agg{}
	seen := map[string]bool{}
	recent := in.User.Recent
	var seedIDs []string
	for i := len(recent) - 1; i >= 0 && len(seedIDs) < seeds; i-- {
		if p := recent[i].Product; !seen[p] {
			seen[p] = true
			seedIDs = append(seedIDs, p)
		}
	}
	// One round trip for every seed when the store can (Redis).
	var lists [][]memstore.Scored
	if bs, ok := c.Store.(CoVisitBatchReader); ok {
		lists = bs.CoVisitedMany(seedIDs, per)
	} else {
		lists = make([][]memstore.Scored, len(seedIDs))
		for i, id := range seedIDs {
			lists[i] = c.Store.CoVisited(id, per)
		}
	}
	for k, seed := range seedIDs {
		// Newer seeds count more.
		w := 1.0 / float64(k+1)
		nb := lists[k]
		if len(nb) == 0 {
			continue
		}
		norm := nb[0].Score
		for _, s := range nb {
			v := w * s.Score / norm
			a := acc[s.ID]
			if a == nil {
				a = &agg{}
				acc[s.ID] = a
			}
			a.score += v
			if v > a.best {
				a.best, a.via = v, seed
			}
		}
	}
	out := make([]Candidate, 0, len(acc))
	for id, a := range acc {
		cd := one(id, SrcCoVisit, a.score)
		cd.Via = a.via
		out = append(out, cd)
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		if a.Scores[0] != b.Scores[0] {
			return cmp.Compare(b.Scores[0], a.Scores[0])
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// CoVisitReader reads co-visitation lists.
type CoVisitReader interface {
	CoVisited(id string, n int) []memstore.Scored
}

// CoVisitBatchReader reads several lists at once (a remote store: one
// round trip); out[i] belongs to ids[i].
type CoVisitBatchReader interface {
	CoVisitedMany(ids []string, n int) [][]memstore.Scored
}

// History proposes items the user recently viewed, clicked or carted but
// has not bought.
type History struct{}

func (History) Name() string { return SrcHistory }

func (History) Candidates(_ context.Context, in *Input, n int) ([]Candidate, error) {
	if in.User == nil {
		return nil, nil
	}
	score := map[string]float64{}
	var order []string
	for i := len(in.User.Recent) - 1; i >= 0; i-- {
		r := in.User.Recent[i]
		if in.User.Bought[r.Product] > 0 {
			continue
		}
		var w float64
		switch r.Type {
		case event.View:
			w = 1
		case event.Click:
			w = 2
		case event.AddToCart:
			w = 4
		}
		if w == 0 {
			continue
		}
		if _, ok := score[r.Product]; !ok {
			order = append(order, r.Product)
		}
		score[r.Product] += w
	}
	out := make([]Candidate, 0, len(order))
	for _, id := range order {
		out = append(out, one(id, SrcHistory, score[id]/4))
	}
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

func fromIndex(list []memstore.Scored, src string, n int, top float64) []Candidate {
	if len(list) > n {
		list = list[:n]
	}
	out := make([]Candidate, len(list))
	for i, s := range list {
		v := s.Score
		if top > 0 {
			v /= top
		}
		out[i] = one(s.ID, src, v)
	}
	return out
}

// BuyAgain proposes what the user bought before, most often bought first:
// repeat purchase, for shops whose products are consumables (served only
// when repeat purchases are allowed).
type BuyAgain struct{}

func (BuyAgain) Name() string { return SrcBuyAgain }

func (BuyAgain) Candidates(_ context.Context, in *Input, n int) ([]Candidate, error) {
	if in.User == nil || len(in.User.Bought) == 0 {
		return nil, nil
	}
	k := SourceIndex(SrcBuyAgain)
	out := make([]Candidate, 0, len(in.User.Bought))
	for id, c := range in.User.Bought {
		out = append(out, one(id, SrcBuyAgain, float64(c)))
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		if a.Scores[k] != b.Scores[k] {
			return cmp.Compare(b.Scores[k], a.Scores[k])
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(out) > n {
		out = out[:n]
	}
	if top := out[0].Scores[k]; top > 0 {
		for i := range out {
			out[i].Scores[k] /= top // 1 for the most bought
		}
	}
	return out, nil
}
