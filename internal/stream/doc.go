// Package stream is reco's stream processor: it reads every partition of the
// event log, applies each record to the online state exactly once, and
// checkpoints the state together with the log offsets it reflects. After a
// crash, Recover loads the newest checkpoint and Run replays the log from
// its offsets, so every acknowledged event is counted once: never lost,
// never twice.
//
// Each partition is read, decoded and applied by its own goroutine, so the
// state must take its own locks; a checkpoint briefly pauses every partition
// to snapshot the state at batch boundaries that match the offsets.
package stream
