package memstore

import (
	"container/heap"
)

// Index is a point-in-time view of product popularity, rebuilt in the
// background (RefreshIndex) and read without locks. Only in-stock products
// are listed. Callers must not modify it.
type Index struct {
	Built      int64               // Unix ms of the clock it was decayed to
	Global     []Scored            // most popular overall
	Trending   []Scored            // rising: short-term over long-term popularity
	ByCategory map[string][]Scored // most popular per category
	MaxPop     float64             // the highest popularity, for normalising
	Categories int
}

// Index returns the newest popularity index.
func (s *Store) Index() *Index { return s.index.Load() }

// RefreshIndex rebuilds the popularity index as of the store's clock and
// publishes it. Safe to call concurrently with Apply and reads; calls
// should not overlap each other.
func (s *Store) RefreshIndex() *Index {
	now := s.opt.Now().UnixMilli()
	o := &s.opt.Features
	hlPop, hlTrend := o.PopularityHalfLife.Milliseconds(), o.TrendingHalfLife.Milliseconds()
	global := &topK{k: s.opt.IndexGlobal}
	trending := &topK{k: s.opt.IndexGlobal}
	byCat := map[string]*topK{}
	var maxPop float64
	for i := range s.products {
		sh := &s.products[i]
		sh.mu.RLock()
		for id, p := range sh.m {
			if !p.InStock() {
				continue
			}
			pop := p.Popularity.At(now, float64(hlPop))
			if pop <= 0 {
				continue
			}
			if pop > maxPop {
				maxPop = pop
			}
			global.push(Scored{id, pop})
			// Trending: the short-half-life mass relative to the long one,
			// damped so that a single fresh view does not top the list.
			tr := p.Trend.At(now, float64(hlTrend))
			trending.push(Scored{id, tr * tr / (pop + 5)})
			if p.Category != "" {
				t := byCat[p.Category]
				if t == nil {
					t = &topK{k: s.opt.IndexPerCategory}
					byCat[p.Category] = t
				}
				t.push(Scored{id, pop})
			}
		}
		sh.mu.RUnlock()
	}
	ix := &Index{Built: now, Global: global.sorted(), Trending: trending.sorted(), ByCategory: make(map[string][]Scored, len(byCat)), MaxPop: maxPop, Categories: len(byCat)}
	for c, t := range byCat {
		ix.ByCategory[c] = t.sorted()
	}
	s.index.Store(ix)
	return ix
}

// topK keeps the k highest-scored items (ties by id) in a min-heap.
type topK struct {
	k int
	h scoredHeap
}

func (t *topK) push(x Scored) {
	if len(t.h) < t.k {
		heap.Push(&t.h, x)
		return
	}
	if less(t.h[0], x) {
		t.h[0] = x
		heap.Fix(&t.h, 0)
	}
}

func (t *topK) sorted() []Scored {
	out := append([]Scored(nil), t.h...)
	sortScored(out)
	return out
}

// less reports whether a ranks below b.
func less(a, b Scored) bool {
	if a.Score != b.Score {
		return a.Score < b.Score
	}
	return a.ID > b.ID
}

type scoredHeap []Scored

func (h scoredHeap) Len() int           { return len(h) }
func (h scoredHeap) Less(i, j int) bool { return less(h[i], h[j]) }
func (h scoredHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *scoredHeap) Push(x any)        { *h = append(*h, x.(Scored)) }
func (h *scoredHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
