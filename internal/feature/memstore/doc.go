// Package memstore is the embedded online store: every user's and product's
// state, item-to-item co-visitation and the popularity indexes, in memory,
// sharded by key. The stream processor's partition goroutines write through
// Apply; any number of request goroutines read concurrently, holding a
// shard's read lock only while they copy one entity out. The popularity indexes are
// rebuilt in the background and published atomically, so reading them never
// waits.
//
// It is not durable by itself: the stream processor snapshots it together
// with the log offsets (Snapshot, Restore) and replays the log tail.
package memstore
