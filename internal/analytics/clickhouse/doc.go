// Package clickhouse streams reco's log records (events and served lists)
// to ClickHouse through its HTTP interface, for analytics at a scale the
// embedded analytics.Aggregator does not keep: raw rows, any grouping, any
// horizon.
//
// A Sink never blocks its caller: Write encodes the record and appends it to
// a bounded in-memory buffer; Run flushes it in batches (by size and time)
// with INSERT ... FORMAT JSONEachRow, one statement per request (ClickHouse
// 18.16 and later). When the buffer is full the oldest buffered records are
// dropped and counted (Hooks.OnDropped): during a long outage the newest data
// is kept. While ClickHouse fails, the Sink backs off exponentially and
// fails fast (Flush returns an Unavailable error without a request) until
// the next attempt is due; it recovers by itself.
//
// Tables (created on start with CREATE ... IF NOT EXISTS, and again if they
// disappear) are ReplacingMergeTree, partitioned by month and ordered by
// (time, log_partition, log_offset[, item_index]). A record carries its log
// partition and offset, so a record written twice (a replay after a crash)
// has the same sorting key and counts once in queries that read the tables
// with FINAL, as every query of this package does (merges remove duplicates
// eventually; FINAL removes them at read time).
//
//	events:      one row per event; revenue_micros = analytics.RevenueMicros(price, quantity)
//	impressions: one row per item of a served list (item_index 0..n-1, is_item = 1), or one
//	             row with is_item = 0 for an empty list; list fields repeated on each row
//
// The *Query functions return SQL computing the same per-minute aggregates
// as analytics.Aggregator, with the same attribution rules (see the
// analytics package); the tests feed one record stream to both and check
// the numbers are equal.
package clickhouse
