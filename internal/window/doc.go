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
// belongs to the next one. The stream processor applies the log's
// partitions concurrently and marks each record with its partition
// (event.Record.Partition), so the aggregator keeps one watermark per
// partition: its newest event time minus WatermarkDelay (10 s). The
// watermark of the windows is the minimum over the partitions, so a
// partition that runs ahead (one with less backlog in a replay, or a
// faster reader) does not close windows that a lagging partition still
// fills: their events are on time, not late. Three rules keep a partition
// from holding the watermark forever:
//
//   - a partition that never delivered an event does not count;
//   - a partition idle for IdleTimeout (processing time, default 30 s:
//     nothing delivered by it, while others may deliver) does not count,
//     until it delivers again;
//   - if every partition is idle, the watermark is the maximum over them,
//     so the windows of a finished replay or a quiet log close. With no
//     event arriving, that happens at the next Snapshot; the stream
//     processor takes one only once it applied some record (an event,
//     product or impression) since the last.
//
// The watermark never goes back: a partition that returns from idleness
// behind it holds later windows, but its events older than the watermark
// are late. Partitions are told apart by number (up to 16384; larger ones
// are folded together and share one watermark).
//
// A window closes when the watermark reaches its end plus AllowedLateness
// (default 0); until then late events still land in their own window. An
// event whose window has closed is counted (Hooks.OnLate) and written to
// the late_events side output; it is never dropped silently.
//
// IdleTimeout trades how long a quiet partition delays every window
// (up to IdleTimeout, plus the delay, after its last event) against how
// long a partition with events still to deliver may pause before its
// events risk turning late. 30 s is far above the time a healthy reader
// goes without a batch, and small against 5-minute windows. Idleness is
// measured on the processing clock, which does not know about pauses of
// the whole processor: after a pause of every partition longer than
// IdleTimeout (a checkpoint that slow, a suspended process), partitions
// that resume later than others look idle for a moment, and some of their
// events may turn late (side output). Keep IdleTimeout above the longest
// checkpoint. Set it < 0 for a strict minimum that depends on no clock;
// then a partition that stops for good stalls every window.
//
// The hot path stays cheap: Apply updates its partition's two atomics and
// recomputes the minimum over partitions only when its own watermark
// crosses a window closing (the only time the minimum can cross one) or,
// once a second, to notice idleness. Restore counts every partition of the
// snapshot as having just delivered, so a replay after a restart is held
// by all of them; a version 1 snapshot (one watermark for all partitions)
// still restores, its watermark becoming the floor.
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
// lateness of a borderline event depends on how partitions interleave and
// on idleness, which a replay need not reproduce; a row is still written
// once.
//
// The package does no Parquet or bucket I/O itself: a Sink (normally
// *offline.Store) receives the batches.
package window
