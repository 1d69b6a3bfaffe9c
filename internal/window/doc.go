// Package window is the case study's 5-minute tumbling-window aggregator,
// run as a stream.State next to the online store: per user and window it
// counts total_events, clicks, purchases, add_to_carts, purchase_rate
// (purchases/clicks), categories_viewed (distinct event categories; events
// without a category do not count) and the first and last event time, and
// writes each closed window as one user_features row stamped with the
// window's end. It also keeps every event for the raw archive, and writes
// the daily product_features snapshot (SnapshotProducts).
//
// # Windows and the watermark
//
// Windows are [start, start+Size): an event exactly at a window's end
// belongs to the next one. The watermark is the newest event time seen
// minus WatermarkDelay (10 s). It is one global maximum over all log
// partitions, which the stream processor applies concurrently: a partition
// that runs ahead moves the watermark for all of them, so a lagging
// partition's events can turn late. (A later change makes it the minimum
// over partitions.) A window closes when the watermark reaches its end plus
// AllowedLateness (default 0); until then late events still land in their
// own window. An event whose window has closed is counted (Hooks.OnLate)
// and written to the late_events side output; it is never dropped silently.
//
// # Exactly-once output
//
// Output is written only from the state a durable checkpoint holds, in
// epochs:
//
//  1. Apply puts closed window rows, late events and archived events into
//     an open buffer (memory only; a crash loses it, and the replay of the
//     log from the checkpoint rebuilds it).
//  2. Snapshot (called by the checkpoint with Apply paused) seals the buffer
//     as epoch N and writes it into the checkpoint with the open windows.
//  3. Committed (called once the checkpoint file is durable) makes sealed
//     epochs writable; Flush/Run writes epoch N as batch "<name>-<N>" of
//     each dataset and date, then drops it from memory.
//
// A batch's content is fixed when it is sealed and its name is
// deterministic, so every possible crash ends well: before the checkpoint
// is durable, epoch N is forgotten and rebuilt by the replay (nothing was
// written); after it, the restored state still holds every epoch not known
// to be written, and Flush rewrites it byte for byte under the same name,
// replacing rather than duplicating. Writing before the checkpoint is
// durable is what would duplicate (a replay seals different content), which
// is why Committed is a separate step and Snapshot does no I/O.
//
// The alternative, deterministic names per window, was rejected because the
// raw archive and the side output have no natural batch key; epochs give
// all three the same guarantee.
//
// Limits: exactly-once assumes the checkpoint is used. If the app discards
// an unusable checkpoint and replays the log from offset 0, epochs restart
// at 0 with different boundaries and rows of the replayed range may be
// written twice; point-in-time joins are unaffected (equal key and
// timestamp), raw event reads are not. With several partitions the
// lateness of a borderline event depends on how partitions interleave,
// which a replay need not reproduce; a row is still written once.
//
// The package does no Parquet or bucket I/O itself: a Sink (normally
// *offline.Store) receives the batches.
package window
