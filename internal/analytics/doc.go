// Package analytics keeps reco's business metrics: what was served, what was
// clicked, bought and earned, per minute, per experiment variant and per
// candidate source, for a dashboard to plot.
//
// The Aggregator is a stream.State: the stream processor applies every log
// record to it exactly once and checkpoints it together with the online
// store, so its numbers survive a crash without double counting. It keeps
// per-minute buckets for a bounded retention (7 days by default) and serves
// them as time series (Series, and the HTTP Handler under /v1/analytics/).
// Recommend latency is not in the log: ObserveLatency feeds a per-minute
// log-bucketed sketch that is not checkpointed.
//
// Attribution. A click, add-to-cart or purchase carrying a request_id is
// attributed to the served list (impression) with the same request_id and
// the same user that precedes it in the log (a user's events and impressions
// share a log partition, so "precedes" is the log order), when its event
// time is at most Options.AttributionWindow after the impression's. If
// several impressions carry the same (request_id, user), the first one wins.
// Attributed counts are bucketed by the minute of the impression (exposure
// cohorts: CTR of the lists served in that minute), not of the click. An
// event is attributed to a candidate source through (request_id,
// product_id): the source of the first item of the list with that product.
// A click on a product that is not in the list counts for its list
// (clicked lists, clicks) but for no source and not for item CTR.
//
// Definitions (all per minute):
//
//	events            log events by event time, by type
//	impressions       served lists (by impression time)
//	items_shown       items of the served lists
//	clicks            attributed click events
//	clicked_lists     lists with at least one attributed click
//	ctr               clicked_lists / impressions
//	clicked_items     distinct (list, product) pairs clicked, product in the list
//	item_ctr          clicked_items / items_shown
//	add_to_carts      attributed add_to_cart events
//	attributed_purchases, attributed_revenue   attributed purchase events and their revenue
//	converted_lists   lists with at least one attributed purchase
//	conversion_rate   converted_lists / impressions
//	purchases, revenue  every purchase event, by event time (attributed or not)
//	fallbacks         lists served by a fallback, by fallback name
//	latency_p50/p95/p99  recommend latency quantiles (ObserveLatency)
//
// Revenue is price x quantity, counted in integer micro-units
// (RevenueMicros) so that sums are exact in any order; a price that was not
// given (< 0) counts as 0.
//
// The same definitions are computed from raw rows in ClickHouse by the
// analytics/clickhouse package, whose tests check that both agree exactly.
//
// The package does not store raw events and is not a general query engine:
// anything finer than a minute or grouped otherwise belongs in ClickHouse.
package analytics
