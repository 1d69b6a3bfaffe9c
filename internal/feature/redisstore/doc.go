// Package redisstore is the online store in Redis (standalone or Redis
// Cluster, through rueidis), for deployments where API replicas read
// features that stream workers compute.
//
// The stream processor stays the place where state is computed (like
// Flink's state backend); after each applied batch it upserts every user,
// product and co-visitation list the batch changed, with the log offsets
// the values reflect. Every write goes through a Lua script that refuses a
// value older than the stored one. A user's key is a string, its guard
// offset (its partition's) as a uvarint and then the user in the compact
// codec (feature.AppendUserCompact): users are most of Redis's memory. The
// keys several partitions update (products, co-visitation lists, the
// popularity index) are small hashes {v: value, o: offsets} guarded by the
// whole offset vector, which must dominate. A replay after a crash
// therefore never moves a key backwards, re-writes exactly the values a
// clean run writes, and the final Redis state equals a clean run's:
// exactly-once for the store as a whole.
//
// With Options.Partitioned, several writers each own some partitions, each
// partition with a state of its own that saw only its users' events (Kafka
// scale-out). A shared key then holds one contribution per partition, hash
// fields v<P> and o<P>, each guarded by its partition's offset alone, and
// reads merge them: products with feature.MergeProducts, co-visitation
// lists with memstore.MergeScored, indexes with memstore.MergeIndexes.
//
// Reads are batched: one round trip (DoMulti) for any set of users and
// products; in a cluster rueidis sends one pipeline per node.
package redisstore
