// Package stream is reco's stream processor: it reads every partition of the
// event log, applies each record to the online state exactly once, and
// checkpoints the state together with the log offsets it reflects. After a
// crash, Recover loads the newest checkpoint and Run replays the log from
// its offsets, so every acknowledged event is counted once: never lost,
// never twice.
//
// Partitions are read and decoded concurrently (one goroutine each) and
// applied by a single goroutine, the state's only writer.
package stream
