// Package redisstore is the online store in Redis (standalone or Redis
// Cluster, through rueidis), for deployments where API replicas read
// features that stream workers compute.
//
// The stream processor stays the place where state is computed (like
// Flink's state backend); after each applied batch it upserts every user,
// product and co-visitation list the batch changed, with the log offsets
// the values reflect. Each key is a small hash {v: value, o: offsets} and
// every write goes through one Lua script that refuses a value older than
// the stored one (a user's key is guarded by its partition's offset; keys
// that several partitions update, by the whole offset vector, which must
// dominate). A replay after a crash therefore never moves a key backwards,
// re-writes exactly the values a clean run writes, and the final Redis
// state equals a clean run's: exactly-once for the store as a whole.
//
// Reads are batched: one round trip (DoMulti) for any set of users and
// products; in a cluster rueidis sends one pipeline per node.
package redisstore
