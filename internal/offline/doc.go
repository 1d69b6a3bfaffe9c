// Package offline is reco's offline feature store: feature rows with
// event-time timestamps and the raw event archive, as ZSTD Parquet files in
// a Bucket (a local directory by default, S3 when configured), partitioned
// by dataset and date. It answers point-in-time joins for training
// (PointInTime), reads ranges (ReadRows, ReadEvents) and merges small files
// (Compact).
//
// Views (feature sets of one entity kind, each with a TTL) are plain values;
// DefaultViews defines user_features (the 5-minute window rows written by
// package window; TTL 30 days) and product_features (daily product
// snapshots; TTL 7 days).
//
// Writes name each file by a caller-chosen batch name; writing a batch again
// replaces its files, which is how writers make retries idempotent.
// Compaction writes the merged file first and lists the files it replaces
// inside it, so readers never see a row twice, even when a compaction
// stopped half way.
//
// It is not an online store: it does not serve requests, and it keeps no
// index beyond the date partitions.
package offline
