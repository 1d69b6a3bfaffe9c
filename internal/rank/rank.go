package rank

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
)

// Ranker scores a slate of candidates for one user.
type Ranker interface {
	// Version names the model, such as "rules-v1" or "gbdt-20261129-1".
	Version() string
	// Score writes one score per item into s.Scores (higher is better).
	// It returns an error, and leaves Scores unspecified, when the model
	// cannot score; the caller falls back.
	Score(ctx context.Context, s *Slate) error
}

// Slate is one request's candidates with everything ranking may use.
type Slate struct {
	User     *feature.User // nil for an unknown user
	TopCats  []feature.CatAffinity
	Now      int64 // Unix ms
	Items    []candidate.Candidate
	Products []*feature.Product // aligned with Items; nil = unknown product
	MaxPop   float64
	Opt      *feature.Options

	Vectors [][]float32 // aligned with Items, built by BuildVectors
	Flat    []float32   // the same values, row-major in one array
	Scores  []float64   // written by a Ranker
}

// FeatureNames names the columns of a feature vector, in order. Models are
// trained on these names; a model whose names differ is refused.
var FeatureNames = []string{
	"user_total_events",
	"user_clicks",
	"user_purchases",
	"user_purchase_rate",
	"user_avg_price",
	"product_popularity_score",
	"product_conversion_rate",
	"product_price",
	"product_trend",
	"product_cart_rate",
	"recency_days",
	"category_affinity",
	"price_fit",
	"seen_before",
	"bought_before",
	"src_co_visitation",
	"src_history",
	"src_category_popular",
	"src_trending",
	"src_popular",
	"src_buy_again",
	"src_similar",
	"user_item_views",
	"user_item_carts",
	"user_item_purchases",
	"user_item_days",
	"product_purchases",
	"product_conversion_smoothed",
	"product_purchase_per_cart",
	"product_popularity_rel",
	"product_trend_ratio",
}

// NumFeatures is len(FeatureNames).
const NumFeatures = numFeatures

// SchemaHash identifies FeatureNames: a model trained on another schema is
// refused.
func SchemaHash() string {
	h := sha256.Sum256([]byte(strings.Join(FeatureNames, ",")))
	return hex.EncodeToString(h[:6])
}

// Indexes into a feature vector.
const (
	fUserTotal = iota
	fUserClicks
	fUserPurchases
	fUserPurchaseRate
	fUserAvgPrice
	fProdPopularity
	fProdConversion
	fProdPrice
	fProdTrend
	fProdCartRate
	fRecencyDays
	fCatAffinity
	fPriceFit
	fSeenBefore
	fBoughtBefore
	fSrcCoVisit
	fSrcHistory
	fSrcCategoryPopular
	fSrcTrending
	fSrcPopular
	fSrcBuyAgain
	fSrcSimilar
	fUserItemViews
	fUserItemCarts
	fUserItemBuys
	fUserItemDays
	fProdPurchases
	fProdConvSmoothed
	fProdBuyPerCart
	fProdPopRel
	fProdTrendRatio
	numFeatures
)

// BuildVectors fills s.Vectors, one row per item, using one backing array.
// Unknown values are NaN (a trained model learns where missing goes).
func BuildVectors(s *Slate) {
	n := len(s.Items)
	flat := make([]float32, n*numFeatures)
	s.Flat = flat
	s.Vectors = make([][]float32, n)
	nan := float32(math.NaN())
	o := s.Opt
	var maxAff float64
	for _, c := range s.TopCats {
		maxAff = math.Max(maxAff, c.Affinity)
	}
	affOf := make(map[string]float64, len(s.TopCats))
	for _, c := range s.TopCats {
		if maxAff > 0 {
			affOf[c.Category] = c.Affinity / maxAff
		}
	}
	var seen map[string]*userItem
	if s.User != nil {
		seen = make(map[string]*userItem, len(s.User.Recent))
		for _, r := range s.User.Recent {
			ui := seen[r.Product]
			if ui == nil {
				ui = &userItem{}
				seen[r.Product] = ui
			}
			switch r.Type {
			case event.View, event.Click:
				ui.views++
			case event.AddToCart:
				ui.carts++
			}
			ui.last = max(ui.last, r.Time)
		}
	}
	for i := range s.Items {
		v := flat[i*numFeatures : (i+1)*numFeatures : (i+1)*numFeatures]
		s.Vectors[i] = v
		for k := range v {
			v[k] = nan
		}
		u, p := s.User, s.Products[i]
		avgPrice := -1.0
		if u != nil {
			v[fUserTotal] = float32(u.Total)
			v[fUserClicks] = float32(u.Clicks)
			v[fUserPurchases] = float32(u.Purchases)
			v[fUserPurchaseRate] = float32(feature.Ratio(u.Purchases, u.Clicks))
			if u.PriceN > 0 {
				avgPrice = u.AvgPrice()
				v[fUserAvgPrice] = float32(avgPrice)
			}
			ui := seen[s.Items[i].ID]
			v[fSeenBefore] = b2f(ui != nil)
			v[fBoughtBefore] = b2f(u.Bought[s.Items[i].ID] > 0)
			v[fUserItemBuys] = float32(u.Bought[s.Items[i].ID])
			v[fUserItemViews], v[fUserItemCarts] = 0, 0
			if ui != nil {
				v[fUserItemViews] = float32(ui.views)
				v[fUserItemCarts] = float32(ui.carts)
				v[fUserItemDays] = float32(float64(s.Now-ui.last) / 86400000)
			}
		}
		if p != nil {
			pop := p.Popularity.At(s.Now, feature.Ms(o.PopularityHalfLife))
			trend := p.Trend.At(s.Now, feature.Ms(o.TrendingHalfLife))
			v[fProdPopularity] = float32(pop)
			v[fProdConversion] = float32(feature.Ratio(p.Purchases, p.Views))
			v[fProdTrend] = float32(trend)
			// Scale-free versions: traffic grows and shrinks over a log, so
			// absolute popularity drifts between the training queries'
			// times and serving's.
			if s.MaxPop > 0 {
				v[fProdPopRel] = float32(pop / s.MaxPop)
			}
			if pop > 0 {
				v[fProdTrendRatio] = float32(trend / pop)
			}
			v[fProdCartRate] = float32(feature.Ratio(p.Carts, p.Views))
			v[fProdPurchases] = float32(p.Purchases)
			v[fProdConvSmoothed] = float32(SmoothedConversion(p.Purchases, p.Views))
			v[fProdBuyPerCart] = float32((float64(p.Purchases) + 1) / (float64(p.Carts) + 2))
			if p.Price >= 0 {
				v[fProdPrice] = float32(p.Price)
			}
			if p.Updated > 0 {
				v[fRecencyDays] = float32(float64(s.Now-p.Updated) / 86400000)
			}
			if u != nil {
				v[fCatAffinity] = float32(affOf[p.Category])
			}
			if avgPrice > 0 && p.Price > 0 {
				v[fPriceFit] = float32(PriceFit(p.Price, avgPrice))
			}
		}
		for k, sc := range s.Items[i].Scores {
			v[fSrcCoVisit+k] = sc
		}
	}
}

// userItem is one user's recent interactions with one item.
type userItem struct {
	views, carts int
	last         int64
}

// Conversion smoothing: ConvPriorViews pseudo-views at ConvPriorRate.
const (
	ConvPriorViews = 20
	ConvPriorRate  = 0.1
)

// SmoothedConversion is (purchases + 20 x 0.1) / (views + 20): an item's
// purchase-per-view rate shrunk towards 10% when it has few views.
func SmoothedConversion(purchases, views int64) float64 {
	return (float64(purchases) + ConvPriorViews*ConvPriorRate) / (float64(views) + ConvPriorViews)
}

// PriceFit is 1 when price equals the user's usual price and falls off
// with the log of the ratio (0.5 at about 2x or 0.5x).
func PriceFit(price, usual float64) float64 {
	r := math.Log(price / usual)
	return math.Exp(-r * r / (2 * 0.6 * 0.6))
}

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}
