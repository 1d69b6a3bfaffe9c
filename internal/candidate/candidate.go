package candidate

import (
	"context"

	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
)

// The sources, in merge priority: a candidate found by several keeps the
// first of these as its source.
const (
	SrcCoVisit         = "co_visitation"
	SrcBuyAgain        = "buy_again"
	SrcHistory         = "history"
	SrcCategoryPopular = "category_popular"
	SrcTrending        = "trending"
	SrcPopular         = "popular"
	SrcSimilar         = "similar"
)

// Sources lists every source name in priority order; a candidate's Scores
// are indexed in this order.
var Sources = []string{SrcCoVisit, SrcHistory, SrcCategoryPopular, SrcTrending, SrcPopular, SrcBuyAgain, SrcSimilar}

// NumSources is len(Sources).
const NumSources = 7

// SourceIndex returns the position of a source name in Sources, or -1.
func SourceIndex(name string) int {
	for i, s := range Sources {
		if s == name {
			return i
		}
	}
	return -1
}

// Candidate is one item proposed for ranking.
type Candidate struct {
	ID     string
	Source string              // the highest-priority source that proposed it
	Scores [NumSources]float32 // each source's score (0 = not proposed)
	Via    string              // for co-visitation: the recent item it was found from
}

// Input is what sources know about the request.
type Input struct {
	User      *feature.User // nil for an unknown user
	TopCats   []feature.CatAffinity
	SessionID string
	Now       int64 // Unix ms
	Index     *memstore.Index
}

// Source proposes candidates. Candidates must return quickly and may be
// called concurrently; a source that fails drops out of the request.
type Source interface {
	Name() string
	Candidates(ctx context.Context, in *Input, n int) ([]Candidate, error)
}

// Merge de-duplicates lists from several sources into one slice: a
// candidate keeps every source's score and, as its Source, the one earliest
// in Sources. Order: by source priority, then each list's own order.
func Merge(lists ...[]Candidate) []Candidate {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	pos := make(map[string]int, total)
	out := make([]Candidate, 0, total)
	for _, l := range lists {
		for _, c := range l {
			if i, ok := pos[c.ID]; ok {
				m := &out[i]
				for k, s := range c.Scores {
					if s > m.Scores[k] {
						m.Scores[k] = s
					}
				}
				if SourceIndex(c.Source) < SourceIndex(m.Source) {
					m.Source = c.Source
					m.Via = c.Via
				}
				continue
			}
			pos[c.ID] = len(out)
			out = append(out, c)
		}
	}
	return out
}

func one(id, src string, score float64) Candidate {
	c := Candidate{ID: id, Source: src}
	c.Scores[SourceIndex(src)] = float32(score)
	return c
}
