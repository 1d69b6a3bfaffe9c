package feature

import "bytes"

// MergeProducts merges the states several partitions of the log keep for
// one product into the product a single state would hold. Each partition
// saw only the events of its own users (and catalog upserts are partitioned
// by product, so normally one of them saw those):
//
//   - the behaviour counters (Views, Clicks, Carts, Purchases, Reviews,
//     RatingSum, Impressions) are summed;
//   - Popularity and Trend are merged exactly (SumDecayed, with the
//     half-lives of o); Updated is the newest;
//   - the catalog fields (Category, Name, Price, Inventory, Margin,
//     Promoted, Available, InCatalog, Attributes) are those of the
//     contribution that is InCatalog; if several are, the one with the
//     newest Updated (ties: the smaller AppendProduct encoding). Without
//     one, the product is not in the catalog and has NewProduct's unknown
//     price and stock. A Category or Price the catalog does not know comes
//     from the events, as in a single state: that of the newest
//     contribution (greatest Updated) that knows one, ties by the smaller
//     value.
//
// Inventory is the catalog contribution's. A purchase lowers inventory only
// in the state of the partition that owns the buyer, and only the catalog
// contribution knows a count to lower, so the merged inventory reflects the
// purchases of that partition's users since the last upsert: an upper
// bound, made exact again by each upsert that sets it (catalog feeds send
// one when stock changes). Subtracting the other partitions' purchase
// counts is not an option: they hold no time, so purchases made before the
// upsert would be subtracted twice.
//
// The result does not depend on the order of ps, bit for bit; nil entries
// are skipped, and it is nil when every entry is. It shares Attributes with
// the chosen contribution.
func MergeProducts(ps []*Product, o *Options) *Product {
	var catalog *Product
	var out *Product
	var buf [2][8]Decayed
	pops, trends := buf[0][:0], buf[1][:0]
	for _, p := range ps {
		if p == nil {
			continue
		}
		if out == nil {
			out = NewProduct(p.ID)
		}
		out.ID = min(out.ID, p.ID) // equal, unless the caller mixed products up
		out.Views += p.Views
		out.Clicks += p.Clicks
		out.Carts += p.Carts
		out.Purchases += p.Purchases
		out.Reviews += p.Reviews
		out.RatingSum += p.RatingSum
		out.Impressions += p.Impressions
		out.Updated = max(out.Updated, p.Updated)
		pops = append(pops, p.Popularity)
		trends = append(trends, p.Trend)
		if p.InCatalog && (catalog == nil || newer(p, catalog)) {
			catalog = p
		}
	}
	if out == nil {
		return nil
	}
	out.Popularity = SumDecayed(pops, Ms(o.PopularityHalfLife))
	out.Trend = SumDecayed(trends, Ms(o.TrendingHalfLife))
	if catalog != nil {
		out.InCatalog = true
		out.Category, out.Name, out.Price = catalog.Category, catalog.Name, catalog.Price
		out.Inventory, out.Margin, out.Promoted, out.Available = catalog.Inventory, catalog.Margin, catalog.Promoted, catalog.Available
		out.Attributes = catalog.Attributes
	}
	if out.Category == "" {
		var from *Product
		for _, p := range ps {
			if p != nil && p.Category != "" && (from == nil || p.Updated > from.Updated || p.Updated == from.Updated && p.Category < from.Category) {
				from = p
			}
		}
		if from != nil {
			out.Category = from.Category
		}
	}
	if out.Price < 0 {
		var from *Product
		for _, p := range ps {
			if p != nil && p.Price >= 0 && (from == nil || p.Updated > from.Updated || p.Updated == from.Updated && p.Price < from.Price) {
				from = p
			}
		}
		if from != nil {
			out.Price = from.Price
		}
	}
	return out
}

// newer reports whether catalog contribution a is preferred over b.
func newer(a, b *Product) bool {
	if a.Updated != b.Updated {
		return a.Updated > b.Updated
	}
	return bytes.Compare(AppendProduct(nil, a), AppendProduct(nil, b)) < 0
}
