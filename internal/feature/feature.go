package feature

import (
	"time"

	"github.com/recohq/reco/internal/event"
)

// Options are the tunable parts of the feature definitions. They change what
// state means, so a change needs a replay of the log.
type Options struct {
	// Weights of each event type in popularity, affinity and co-visitation
	// (view < click < add_to_cart < purchase by default).
	Weights map[event.Type]float64
	// AffinityHalfLife is the half-life of a user's category affinity.
	AffinityHalfLife time.Duration // 0 means 14 days
	// PopularityHalfLife is the half-life of a product's popularity_score.
	PopularityHalfLife time.Duration // 0 means 7 days
	// TrendingHalfLife is the short half-life that trending compares with.
	TrendingHalfLife time.Duration // 0 means 1 day
	// RecentItems is how many recent items a user keeps: co-visitation seeds
	// and the viewed-or-carted-not-bought history (measured: 100 instead of
	// 20 raises Taobao HR@10 from 0.23 to 0.36, EVALUATION.md).
	RecentItems int // 0 means 100
	// SessionGap ends a co-visitation window when a user is idle this long
	// and the session id does not say otherwise.
	SessionGap time.Duration // 0 means 30 minutes
}

// DefaultWeights are the behaviour weights used when Options.Weights is nil.
var DefaultWeights = map[event.Type]float64{
	event.View: 1, event.Click: 2, event.AddToCart: 4, event.Purchase: 8, event.Review: 2, event.RemoveFromCart: 0,
}

// WithDefaults fills zero fields.
func (o Options) WithDefaults() Options {
	if o.Weights == nil {
		o.Weights = DefaultWeights
	}
	if o.AffinityHalfLife == 0 {
		o.AffinityHalfLife = 14 * 24 * time.Hour
	}
	if o.PopularityHalfLife == 0 {
		o.PopularityHalfLife = 7 * 24 * time.Hour
	}
	if o.TrendingHalfLife == 0 {
		o.TrendingHalfLife = 24 * time.Hour
	}
	if o.RecentItems == 0 {
		o.RecentItems = 100
	}
	if o.SessionGap == 0 {
		o.SessionGap = 30 * time.Minute
	}
	return o
}

// Weight returns the weight of an event type.
func (o Options) Weight(t event.Type) float64 { return o.Weights[t] }

// Ms converts a duration to float milliseconds for Decayed.
func Ms(d time.Duration) float64 { return float64(d.Milliseconds()) }

// PurchaseTier is the case study's on-demand feature: high above a 10%
// purchase rate, medium above 5%, else low.
func PurchaseTier(purchaseRate float64) string {
	switch {
	case purchaseRate > 0.1:
		return "high"
	case purchaseRate > 0.05:
		return "medium"
	}
	return "low"
}

// Ratio is a/b, 0 when b is 0.
func Ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
