package eval

import (
	"math"
	"slices"
)

// Ranked is one user's ranking cut at the depth the metrics need: groups
// of tied items, best first. Only the last group may reach past the depth,
// and it then holds every item with its score, so that ties across the cut
// are scored exactly.
type Ranked struct {
	Groups [][]int32
}

// Metrics are one user's (or the mean over users') figures. Ties are
// scored as the expectation under a uniformly random order of each tied
// group, computed exactly.
type Metrics struct {
	HitRate float64 // at K
	NDCG    float64 // at K, binary relevance, ideal DCG over min(|truth|, K)
	Recall  float64 // at RecallK
	MRR     float64 // at K
}

// Score computes one user's metrics at k (HitRate, NDCG, MRR) and rk
// (Recall) for the ranking r against the relevant items truth. truth may
// hold items that cannot be ranked: they count in |truth| all the same.
func Score(r Ranked, truth map[int32]bool, k, rk int) Metrics {
	var m Metrics
	if len(truth) == 0 {
		return m
	}
	pos := 0 // items placed before the current group
	hitMiss := 1.0
	mrrDone := false
	var expHitsRK float64
	for _, g := range r.Groups {
		n := len(g)
		t := 0
		for _, it := range g {
			if truth[it] {
				t++
			}
		}
		if t > 0 {
			// DCG: each relevant item of the group is uniform over its slots.
			var disc float64
			for p := pos + 1; p <= pos+n && p <= k; p++ {
				disc += 1 / math.Log2(float64(p)+1)
			}
			m.NDCG += float64(t) * disc / float64(n)
			// Recall: expected relevant items within the first rk slots.
			if in := min(n, max(0, rk-pos)); in > 0 {
				expHitsRK += float64(t) * float64(in) / float64(n)
			}
			// Hit: P(no relevant item in the group's slots up to k).
			if in := min(n, max(0, k-pos)); in > 0 && hitMiss > 0 {
				hitMiss *= noneInFirst(n, t, in)
			}
			// MRR: the first relevant item of the first group that has one.
			if !mrrDone {
				mrrDone = true
				m.MRR = expRR(n, t, pos, k)
			}
		}
		pos += n
		if pos >= max(k, rk) {
			break
		}
	}
	m.HitRate = 1 - hitMiss
	var ideal float64
	for p := 1; p <= min(len(truth), k); p++ {
		ideal += 1 / math.Log2(float64(p)+1)
	}
	m.NDCG /= ideal
	m.Recall = expHitsRK / float64(len(truth))
	return m
}

// noneInFirst is the probability that none of t marked items among n
// shuffled ones lands in the first m slots: C(n-t, m) / C(n, m).
func noneInFirst(n, t, m int) float64 {
	if t+m > n {
		return 0
	}
	p := 1.0
	for i := 0; i < m; i++ {
		p *= float64(n-t-i) / float64(n-i)
	}
	return p
}

// expRR is the expected reciprocal rank, counted only within k, of the
// first of t relevant items shuffled among n slots after pos others.
func expRR(n, t, pos, k int) float64 {
	var e float64
	// P(first >= j) = C(n-j+1, t)/C(n, t) = noneInFirst(n, t, j-1).
	prev := 1.0
	for j := 1; j <= n && pos+j <= k; j++ {
		next := noneInFirst(n, t, j)
		e += (prev - next) / float64(pos+j)
		prev = next
	}
	return e
}

// Rank cuts a dense score vector into tied groups down to depth: NaN
// scores are masked (not ranked). Items in a group are in index order.
func Rank(scores []float64, depth int) Ranked {
	// The depth-th best score: every item scoring at least that is kept.
	h := make([]float64, 0, depth)
	for _, s := range scores {
		if math.IsNaN(s) {
			continue
		}
		if len(h) < depth {
			h = append(h, s)
			if len(h) == depth {
				slices.Sort(h)
			}
			continue
		}
		if s > h[0] {
			// Insert keeping h sorted ascending, dropping the smallest.
			i, _ := slices.BinarySearch(h, s)
			copy(h[0:i-1], h[1:i])
			h[i-1] = s
		}
	}
	if len(h) == 0 {
		return Ranked{}
	}
	slices.Sort(h)
	cut := h[0]
	type is struct {
		i int32
		s float64
	}
	var keep []is
	for i, s := range scores {
		if !math.IsNaN(s) && s >= cut {
			keep = append(keep, is{int32(i), s})
		}
	}
	slices.SortStableFunc(keep, func(a, b is) int {
		switch {
		case a.s > b.s:
			return -1
		case a.s < b.s:
			return 1
		}
		return 0
	})
	var r Ranked
	for i := 0; i < len(keep); {
		j := i
		g := []int32{}
		for ; j < len(keep) && keep[j].s == keep[i].s; j++ {
			g = append(g, keep[j].i)
		}
		r.Groups = append(r.Groups, g)
		i = j
	}
	return r
}

// Top returns the first k items of r, ties broken by item index (for
// coverage, which counts what a deterministic server would show).
func (r Ranked) Top(k int) []int32 {
	var out []int32
	for _, g := range r.Groups {
		for _, it := range g {
			if len(out) == k {
				return out
			}
			out = append(out, it)
		}
	}
	return out
}
