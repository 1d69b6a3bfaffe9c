// Package dedupe drops repeated events: a client that retries POST
// /v1/events after a timeout or a 503 may put the same event into the log
// twice, because the first attempt may have landed. An event sent with an
// event_id (stored in event.Event.SourceKey) is counted once if the same
// user sent the same event_id shortly before.
//
// Filter is a stream.State meant to be the first part of a stream.Multi:
// it marks a repeated record by setting its Kind to 0, and every later
// part ignores a record of that kind.
//
// # What it remembers
//
// A key is the pair (user, event_id): the same event_id from two users is
// two events. Keys are kept, as 128-bit hashes, for Options.Window of
// ingest time (event.Event.Ingested, when the log accepted the event),
// never of the wall clock, so that a replay of the same records makes
// exactly the same decisions, and a checkpoint plus a replay equals a clean
// run. A repeat refreshes its key: retries that keep coming within a window
// of each other are all dropped.
//
// Every partition of the log has its own memory and its own clock (its
// newest ingest time), because the stream processor applies partitions
// concurrently and in no fixed interleaving. The log puts all events of a
// user on one partition, in order, so a retry meets its original there and
// no decision depends on how partitions interleave.
//
// Memory is bounded twice. Keys live in buckets of a quarter window of
// ingest time; a bucket whose newest key is older than the partition's
// newest ingest time minus Window is forgotten whole, in time linear in its
// size (amortised O(1) per event). And a partition holds at most
// Options.MaxKeys keys: beyond that its oldest bucket is forgotten early,
// and a retry of an event in it is counted again (Stats.Forgotten says how
// many keys went early). Only events with a key move a partition's clock,
// so a partition whose keyed traffic stops keeps its last window of keys
// (and checkpoints them) until the next keyed event; Options.Skip keeps
// keys that need no filtering, such as an import's, out of memory.
//
// # What it is not
//
// It is not the exactly-once machinery of replays and rebalances (the
// stream processor's checkpoints do that), and it does not look at events
// without an event_id. It does not stop a duplicate from reaching the log,
// so readers of the raw log (training scans, exports) see both copies
// unless they run a Filter too. Ingest times that go backwards by more
// than a window (a clock step) may let a repeat through.
package dedupe
