package featureview

import (
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
)

// Defaults returns the case study's views in this language: user_features
// (TTL 30 days) and product_features (TTL 7 days), equal in meaning to the
// served feature.UserFeatures and feature.ProductFeatures, and the
// on-demand purchase_tier. Catalog upserts feed product_features' category,
// price and inventory_level.
func Defaults() ([]View, []OnDemand) { return DefaultsFor(feature.Options{}) }

// DefaultsFor is Defaults with the behaviour weights and popularity
// half-life of o (the features: section of reco.yaml), so that
// popularity_score stays equal to the served one when they are tuned.
func DefaultsFor(o feature.Options) ([]View, []OnDemand) {
	o = o.WithDefaults()
	weights := map[string]float64{}
	for t, w := range o.Weights {
		if w > 0 {
			weights[t.String()] = w
		}
	}
	priced := []string{event.View.String(), event.Click.String(), event.AddToCart.String(), event.Purchase.String()}
	user := View{
		Name: "user_features", Entity: "user", TTL: Duration(30 * 24 * time.Hour),
		Description: "A user's behaviour over all time (the case study's user_features).",
		Features: []Feature{
			{Name: "total_events", Type: "int64", Agg: "count", Description: "behaviour events of every type"},
			{Name: "clicks", Type: "int64", Agg: "count", Events: []string{"click"}},
			{Name: "purchases", Type: "int64", Agg: "count", Events: []string{"purchase"}},
			{Name: "add_to_carts", Type: "int64", Agg: "count", Events: []string{"add_to_cart"}},
			{Name: "purchase_rate", Type: "float64", Agg: "ratio", Numerator: "purchases", Denominator: "clicks", Default: 0.0,
				Description: "purchases / clicks, 0 without clicks"},
			{Name: "categories_viewed", Type: "int64", Agg: "distinct_count", Field: "category",
				Description: "distinct categories of the user's events (capped at 1,000)"},
			{Name: "favorite_category", Type: "string", Agg: "most_frequent", Field: "category",
				Description: "the category of most of the user's events (ties: alphabetically first)"},
			{Name: "avg_price_point", Type: "float64", Agg: "avg", Field: "price", Events: priced, Default: 0.0,
				Description: "mean price of viewed, clicked, carted and bought items"},
			{Name: "first_event_time", Type: "timestamp", Agg: "min", Field: "time"},
			{Name: "last_event_time", Type: "timestamp", Agg: "max", Field: "time"},
		},
	}
	product := View{
		Name: "product_features", Entity: "product", TTL: Duration(7 * 24 * time.Hour),
		Description: "A product's catalog fields and behaviour (the case study's product_features).",
		Features: []Feature{
			{Name: "category", Type: "string", Agg: "first", Field: "category", Catalog: "category",
				Description: "the catalog's category, else the first event's"},
			{Name: "price", Type: "float64", Agg: "first", Field: "price", Catalog: "price",
				Description: "the catalog's price, else the first event's"},
			{Name: "popularity_score", Type: "float64", Agg: "decayed_count", HalfLife: Duration(o.PopularityHalfLife), Weights: weights,
				Description: "behaviour-weighted, time-decayed event count"},
			{Name: "views", Type: "int64", Agg: "count", Events: []string{"view", "click"}, Description: "detail page visits"},
			{Name: "purchases", Type: "int64", Agg: "count", Events: []string{"purchase"}},
			{Name: "conversion_rate", Type: "float64", Agg: "ratio", Numerator: "purchases", Denominator: "views", Default: 0.0,
				Description: "purchases / views, 0 without views"},
			{Name: "avg_rating", Type: "float64", Agg: "avg", Field: "rating", Events: []string{"review"}},
			{Name: "inventory_level", Type: "int64", Agg: "stock", Catalog: "inventory", Events: []string{"purchase"},
				Description: "the catalog's inventory less purchased quantities since, never below 0"},
		},
	}
	od := []OnDemand{{Name: "purchase_tier", Type: "string", Inputs: []string{"user_features:purchase_rate"}, Func: "purchase_tier",
		Description: "high above a 10% purchase rate, medium above 5%, else low"}}
	return []View{user, product}, od
}
