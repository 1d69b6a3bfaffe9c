// Package rerank turns scored candidates into the served list by ordered
// business rules: drop what must never be shown (already purchased, out of
// stock, unavailable), boost what the business wants (promotions, margin),
// enforce diversity (a cap per category), and fill from fallbacks when the
// list is short. It knows nothing of how scores were made.
package rerank

import (
	"cmp"
	"slices"
	"strings"
)

// Item is one scored candidate.
type Item struct {
	ID        string
	Category  string
	Score     float64
	Source    string
	Reason    string
	Promoted  bool
	Margin    float64
	Purchased bool // the user already bought it
	InStock   bool
	Index     int // position in the caller's slate, carried through
}

// Options are the business rules' parameters.
type Options struct {
	// MaxPerCategory caps items of one category in a list; 0 means 3,
	// negative means no cap. When the cap would leave the list short, it is
	// relaxed rather than serving fewer items.
	MaxPerCategory int
	// PromotedBoost multiplies promoted items' scores; 0 means 1.1.
	PromotedBoost float64
	// MarginWeight adds MarginWeight x margin (a fraction, 0..1) to the
	// multiplier; 0 means none.
	MarginWeight float64
	// AllowPurchased keeps items the user bought (repeat purchase).
	AllowPurchased bool
}

func (o Options) withDefaults() Options {
	if o.MaxPerCategory == 0 {
		o.MaxPerCategory = 3
	}
	if o.PromotedBoost == 0 {
		o.PromotedBoost = 1.1
	}
	return o
}

// Apply returns up to n items from items (in order of adjusted score) and
// then from fallback, under the rules. items and fallback are not modified
// except for Score adjustments on items' copies in the result. Duplicates
// across the two lists are dropped.
func Apply(items, fallback []Item, n int, o Options) []Item {
	o = o.withDefaults()
	// Sort pointers, not the (large) items.
	ptrs := make([]*Item, 0, len(items))
	adj := make([]Item, len(items))
	for i, it := range items {
		if !eligible(&it, o) {
			continue
		}
		mult := 1.0
		if it.Promoted {
			mult *= o.PromotedBoost
		}
		if o.MarginWeight != 0 {
			mult *= 1 + o.MarginWeight*it.Margin
		}
		it.Score *= mult
		adj[i] = it
		ptrs = append(ptrs, &adj[i])
	}
	slices.SortFunc(ptrs, func(a, b *Item) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := make([]Item, 0, n)
	taken := make(map[string]bool, n)
	perCat := map[string]int{}
	var deferred []*Item // over the category cap, kept in order for relaxing
	take := func(list []*Item, capped bool) {
		for _, it := range list {
			if len(out) >= n {
				return
			}
			if taken[it.ID] || !eligible(it, o) {
				continue
			}
			if capped && o.MaxPerCategory > 0 && it.Category != "" && perCat[it.Category] >= o.MaxPerCategory {
				deferred = append(deferred, it)
				continue
			}
			taken[it.ID] = true
			perCat[it.Category]++
			out = append(out, *it)
		}
	}
	take(ptrs, true)
	fb := make([]*Item, len(fallback))
	for i := range fallback {
		fb[i] = &fallback[i]
	}
	take(fb, true)
	if len(out) < n {
		rest := deferred
		deferred = nil
		take(rest, false)
	}
	return out
}

func eligible(it *Item, o Options) bool {
	return it.InStock && (o.AllowPurchased || !it.Purchased)
}
