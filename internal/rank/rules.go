package rank

import (
	"context"
	"fmt"
	"math"

	"github.com/recohq/reco/internal/candidate"
)

// Rules ranks by a transparent formula over the feature vector:
//
//	(0.15 + category affinity) x (0.2 + log popularity) x (0.5 + price fit) x (1 + co-visitation)
//
// (co-visitation: the larger of the co-visitation and similar-items
// sources' scores)
// with bonuses for items the user looked at and did not buy, and (when
// repeat purchase is on) for items the user bought often. Every
// factor is in [0, 1], so a reason can name the strongest.
type Rules struct{}

// RulesVersion is the model_version of the rule-based ranker.
const RulesVersion = "rules-v1"

func (Rules) Version() string { return RulesVersion }

func (Rules) Score(_ context.Context, s *Slate) error {
	if s.Vectors == nil {
		BuildVectors(s)
	}
	s.Scores = resize(s.Scores, len(s.Items))
	logMax := math.Log1p(s.MaxPop)
	for i, v := range s.Vectors {
		aff := zeroNaN(v[fCatAffinity])
		pop := 0.0
		if logMax > 0 {
			pop = math.Min(1, math.Log1p(zeroNaN(v[fProdPopularity]))/logMax)
		}
		fit := 0.5
		if !math.IsNaN(float64(v[fPriceFit])) {
			fit = float64(v[fPriceFit])
		}
		cov := max(zeroNaN(v[fSrcCoVisit]), zeroNaN(v[fSrcSimilar]))
		hist := zeroNaN(v[fSrcHistory])
		again := zeroNaN(v[fSrcBuyAgain])
		score := (0.15 + aff) * (0.2 + pop) * (0.5 + fit) * (1 + cov) * (1 + 0.5*hist) * (1 + again)
		// Normalise by the largest possible value so scores read as 0..1.
		s.Scores[i] = score / (1.15 * 1.2 * 1.5 * 2 * 1.5 * 2)
	}
	return nil
}

// Reason explains in a few words why item i of a scored slate is there,
// from its source and its strongest features. It is computed only for the
// items served.
func Reason(s *Slate, i int) string {
	c := s.Items[i]
	v := s.Vectors[i]
	aff, cov, hist := zeroNaN(v[fCatAffinity]), zeroNaN(v[fSrcCoVisit]), zeroNaN(v[fSrcHistory])
	pop := 0.0
	if logMax := math.Log1p(s.MaxPop); logMax > 0 {
		pop = math.Log1p(zeroNaN(v[fProdPopularity])) / logMax
	}
	cat := ""
	if p := s.Products[i]; p != nil {
		cat = p.Category
	}
	switch {
	case c.Source == candidate.SrcBuyAgain:
		return "you bought this before"
	case c.Source == candidate.SrcCoVisit && c.Via != "":
		return fmt.Sprintf("often viewed together with %s, which you viewed recently", c.Via)
	case c.Source == candidate.SrcHistory || hist > 0:
		return "you looked at this recently"
	case c.Source == candidate.SrcSimilar:
		return "similar to items you viewed or bought"
	case aff >= 0.5 && cat != "":
		return fmt.Sprintf("popular in %s, a category you like", cat)
	case c.Source == candidate.SrcTrending:
		return "trending now"
	case cov > 0:
		return "often viewed with items you viewed"
	case pop > 0.5:
		return "one of our most popular products"
	case cat != "":
		return "popular in " + cat
	}
	return "popular right now"
}

func zeroNaN(f float32) float64 {
	if f != f {
		return 0
	}
	return float64(f)
}

func resize(s []float64, n int) []float64 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float64, n)
}

// Popularity ranks by decayed popularity alone: the non-personalised
// control of experiments.
type Popularity struct{}

// PopularityVersion is the model_version of the popularity ranker.
const PopularityVersion = "popular-v1"

func (Popularity) Version() string { return PopularityVersion }

func (Popularity) Score(_ context.Context, s *Slate) error {
	if s.Vectors == nil {
		BuildVectors(s)
	}
	s.Scores = resize(s.Scores, len(s.Items))
	for i, v := range s.Vectors {
		s.Scores[i] = zeroNaN(v[fProdPopularity])
		if s.MaxPop > 0 {
			s.Scores[i] /= s.MaxPop
		}
	}
	return nil
}
