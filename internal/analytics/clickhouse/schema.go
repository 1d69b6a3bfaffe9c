package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/recohq/reco/internal/analytics"
)

// Schema returns the statements that create the database and the tables,
// in order (each is one request).
func Schema(db string) []string {
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + db,
		`CREATE TABLE IF NOT EXISTS ` + db + `.events (
	log_partition UInt32,
	log_offset Int64,
	type String,
	user_id String,
	product_id String,
	session_id String,
	category String,
	price Float64,
	quantity Int32,
	rating Int8,
	revenue_micros Int64,
	time_ms Int64,
	request_id String,
	ingested_ms Int64,
	source_key String,
	time DateTime MATERIALIZED toDateTime(intDiv(time_ms, 1000))
) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(time) ORDER BY (time, log_partition, log_offset)`,
		`CREATE TABLE IF NOT EXISTS ` + db + `.impressions (
	log_partition UInt32,
	log_offset Int64,
	item_index UInt32,
	is_item UInt8,
	items_count UInt32,
	request_id String,
	user_id String,
	session_id String,
	model_version String,
	experiment String,
	variant String,
	fallback String,
	time_ms Int64,
	product_id String,
	source String,
	position Int32,
	score Float32,
	time DateTime MATERIALIZED toDateTime(intDiv(time_ms, 1000))
) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(time) ORDER BY (time, log_partition, log_offset, item_index)`,
	}
}

func (s *Sink) createSchema(ctx context.Context) error {
	for _, q := range Schema(s.opt.Database) {
		if err := s.exec(ctx, q, nil); err != nil {
			return fmt.Errorf("create tables: %w", err)
		}
	}
	return nil
}

// The SQL forms of analytics.VariantKey and analytics.SourceKey.
const (
	variantKeyExpr = "if(experiment = '' AND variant = '', 'none', concat(experiment, '/', variant))"
	sourceKeyExpr  = "if(source = '', 'none', source)"
)

func keyExpr(groupBy, expr string) string {
	if groupBy == analytics.GroupNone {
		return "'all'"
	}
	return expr
}

// EventsQuery counts events per minute of event time and type.
// Columns: minute, type, events.
func EventsQuery(db string) string {
	return "SELECT intDiv(time_ms, 60000) AS minute, type, count() AS events FROM " + db +
		".events FINAL GROUP BY minute, type ORDER BY minute, type"
}

// PurchasesQuery counts every purchase and its revenue per minute of event
// time. Columns: minute, purchases, revenue_micros.
func PurchasesQuery(db string) string {
	return "SELECT intDiv(time_ms, 60000) AS minute, count() AS purchases, sum(revenue_micros) AS revenue_micros FROM " + db +
		".events FINAL WHERE type = 'purchase' GROUP BY minute ORDER BY minute"
}

// ListsQuery counts served lists and items shown per minute of impression
// time, grouped by analytics.GroupNone (key 'all'), GroupVariant or
// GroupSource (lists is 0 by source). Columns: minute, key, lists, items_shown.
func ListsQuery(db, groupBy string) string {
	if groupBy == analytics.GroupSource {
		return "SELECT intDiv(time_ms, 60000) AS minute, " + sourceKeyExpr + " AS key, 0 AS lists, count() AS items_shown FROM " + db +
			".impressions FINAL WHERE is_item = 1 GROUP BY minute, key ORDER BY minute, key"
	}
	return "SELECT intDiv(time_ms, 60000) AS minute, " + keyExpr(groupBy, variantKeyExpr) +
		" AS key, countIf(item_index = 0) AS lists, sum(is_item) AS items_shown FROM " + db +
		".impressions FINAL GROUP BY minute, key ORDER BY minute, key"
}

// FallbacksQuery counts lists served by a fallback, per minute and
// fallback. Columns: minute, fallback, lists.
func FallbacksQuery(db string) string {
	return "SELECT intDiv(time_ms, 60000) AS minute, fallback, count() AS lists FROM " + db +
		".impressions FINAL WHERE item_index = 0 AND fallback != '' GROUP BY minute, fallback ORDER BY minute, fallback"
}

// AttributionQuery counts the events attributed to served lists, per minute
// of the list's impression time, grouped by analytics.GroupNone (key
// 'all'), GroupVariant or GroupSource, with the analytics package's rules:
// same request_id and user, the first list (lowest offset) with them, the
// event after the list in the log (same partition, higher offset), event
// time at most window after the list's; by source, only events on a product
// of the list, with the source of its first item with that product
// (clicked_lists and converted_lists are then 0, as in the Aggregator).
// Columns: minute, key, clicks, clicked_lists, clicked_items, add_to_carts,
// purchases, converted_lists, revenue_micros.
func AttributionQuery(db, groupBy string, window time.Duration) string {
	lists, converted := "uniqExactIf(imp_partition, imp_offset, type = 'click')", "uniqExactIf(imp_partition, imp_offset, type = 'purchase')"
	key, where := keyExprAttributed(groupBy), ""
	if groupBy == analytics.GroupSource {
		lists, converted, where = "0", "0", " WHERE in_list = 1"
	}
	return `SELECT intDiv(imp_time, 60000) AS minute, ` + key + ` AS key,
	countIf(type = 'click') AS clicks,
	` + lists + ` AS clicked_lists,
	uniqExactIf(imp_partition, imp_offset, product_id, type = 'click' AND in_list = 1) AS clicked_items,
	countIf(type = 'add_to_cart') AS add_to_carts,
	countIf(type = 'purchase') AS purchases,
	` + converted + ` AS converted_lists,
	sumIf(revenue_micros, type = 'purchase') AS revenue_micros
FROM (
	SELECT type, product_id, revenue_micros, imp_partition, imp_offset, imp_time, variant_key
	FROM (
		SELECT type, user_id, request_id, product_id, revenue_micros, log_partition, log_offset, time_ms
		FROM ` + db + `.events FINAL
		WHERE request_id != '' AND type IN ('click', 'add_to_cart', 'purchase')
	) ALL INNER JOIN (
		SELECT request_id, user_id, min(log_offset) AS imp_offset, argMin(log_partition, log_offset) AS imp_partition,
			argMin(time_ms, log_offset) AS imp_time, argMin(` + variantKeyExpr + `, log_offset) AS variant_key
		FROM ` + db + `.impressions FINAL
		WHERE item_index = 0 AND request_id != ''
		GROUP BY request_id, user_id
	) USING (request_id, user_id)
	WHERE log_partition = imp_partition AND log_offset > imp_offset AND time_ms - imp_time <= ` + strconv.FormatInt(window.Milliseconds(), 10) + `
) ANY LEFT JOIN (
	SELECT log_partition AS imp_partition, log_offset AS imp_offset, product_id, argMin(` + sourceKeyExpr + `, item_index) AS source, toUInt8(1) AS in_list
	FROM ` + db + `.impressions FINAL
	WHERE is_item = 1
	GROUP BY imp_partition, imp_offset, product_id
) USING (imp_partition, imp_offset, product_id)` + where + `
GROUP BY minute, key ORDER BY minute, key`
}

func keyExprAttributed(groupBy string) string {
	switch groupBy {
	case analytics.GroupVariant:
		return "variant_key"
	case analytics.GroupSource:
		return "source"
	}
	return "'all'"
}
