package memstore

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// The merges of the lists that partitions of the log compute on their own
// (each from the events of its users only) into what a reader serves. They
// are pure, and their results do not depend on the order of their inputs,
// bit for bit: scores of one id are added smallest first.

// MergeScored sums the scores of each id over lists, and returns the n
// highest (all when n <= 0), strongest first, ties by id. The lists are
// not modified; the result is new.
//
// Each list is a partition's top k, so an id that no list ranks misses the
// part of its score that fell below a cut: the merged head is exact when
// every list is complete, an approximation near the cut otherwise.
func MergeScored(lists [][]Scored, n int) []Scored {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	all := make([]Scored, 0, total)
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortFunc(all, func(a, b Scored) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Score, b.Score)
	})
	out := all[:0]
	for i := 0; i < len(all); {
		s := all[i]
		j := i + 1
		for ; j < len(all) && all[j].ID == s.ID; j++ {
			s.Score += all[j].Score
		}
		out = append(out, s)
		i = j
	}
	sortScored(out)
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return slices.Clip(out)
}

// MergeIndexes merges the popularity indexes of several partitions:
//
//   - a product's popularity is the sum over partitions of the score each
//     lists it with, in Global or in any category (a partition that holds
//     no catalog upsert for a product may not know its category, yet list
//     it in Global), first decayed from the partition's Built to the newest
//     Built (half-life popHalfLife, ms);
//   - Global is the global most popular products (0: all), and ByCategory
//     the perCategory most popular of each category (0: all); a product's
//     category is the one most partitions list it under (ties: the
//     alphabetically first), and a product no partition lists under a
//     category is in none (when events carry no category, only its catalog
//     partition knows it, and lists it only if its own users touched it);
//   - Trending: MergeScored of the partitions' trending scores as they are
//     (the global highest), an approximation: a partition's score is
//     tr²/(pop+5) of its own short- and long-term popularity, and the sum
//     of those is not that ratio of the sums (it favours products whose
//     rise is concentrated in few partitions);
//   - MaxPop is the highest merged Global score, Built the newest,
//     Categories the number of merged categories.
//
// Each partition's lists are its top k, so a product misses the part of its
// popularity that a partition ranked below its cut: the head of each list
// is right, its tail approximate. And a partition lists the products it
// considers in stock; one that holds no catalog upsert for a product (they
// are partitioned by product) considers it in stock, so the merged lists
// may name products the catalog marks unavailable: readers check stock on
// the products, as serving does.
//
// Nil indexes are skipped; the result is new and never nil, and it does not
// depend on the order of ixs.
func MergeIndexes(ixs []*Index, popHalfLife float64, global, perCategory int) *Index {
	out := &Index{ByCategory: map[string][]Scored{}}
	for _, ix := range ixs {
		if ix != nil {
			out.Built = max(out.Built, ix.Built)
		}
	}
	var pops []Scored
	var trending [][]Scored
	votes := map[string]map[string]int{} // product -> category -> partitions
	for _, ix := range ixs {
		if ix == nil {
			continue
		}
		f := 1.0
		if ix.Built != out.Built && popHalfLife > 0 {
			f = math.Exp2(-float64(out.Built-ix.Built) / popHalfLife)
		}
		mine := map[string]float64{}
		for _, s := range ix.Global {
			mine[s.ID] = s.Score
		}
		for c, l := range ix.ByCategory {
			for _, s := range l {
				if v, ok := mine[s.ID]; !ok || s.Score > v {
					mine[s.ID] = s.Score
				}
				if votes[s.ID] == nil {
					votes[s.ID] = map[string]int{}
				}
				votes[s.ID][c]++
			}
		}
		for id, v := range mine {
			pops = append(pops, Scored{ID: id, Score: v * f})
		}
		trending = append(trending, ix.Trending)
	}
	all := MergeScored([][]Scored{pops}, 0)
	out.Global = all
	if global > 0 && len(all) > global {
		out.Global = slices.Clip(all[:global])
	}
	for _, s := range all {
		cat, n := "", 0
		for c, k := range votes[s.ID] {
			if k > n || k == n && c < cat {
				cat, n = c, k
			}
		}
		if n == 0 || perCategory > 0 && len(out.ByCategory[cat]) >= perCategory {
			continue
		}
		out.ByCategory[cat] = append(out.ByCategory[cat], s)
	}
	out.Trending = MergeScored(trending, global)
	if len(out.Global) > 0 {
		out.MaxPop = out.Global[0].Score
	}
	out.Categories = len(out.ByCategory)
	return out
}
