// Package kafkalog is the event bus on Kafka, written with franz-go: the
// alternative to the embedded segment log (seglog) when several `reco serve`
// processes share one stream of events.
//
// A Log has three faces:
//
//   - the producer, Append: records go to the partition the caller chose
//     (keyed by user id as well), through franz-go's idempotent producer, and
//     Append returns only once every record is acknowledged by all in-sync
//     replicas. Any failure is an error (reco.Unavailable when the brokers
//     cannot be reached) and nothing of the batch may be acknowledged to the
//     client.
//   - the reader, Source and Reader: the stream.Source / stream.Reader
//     contract of the stream processor, reading one partition from an exact
//     offset. Records written by Append carry the header reco-enc: bin1 and
//     are returned as they are; records without it are the shop's own JSON
//     events (one event per record, the API's schema) and are returned
//     transcoded to the binary log encoding. A record that cannot be
//     transcoded is returned as a bad-record marker (see DecodeError) that
//     event.Decode rejects, so the processor counts and skips it while its
//     offset still advances. Source.Commit stores the processor's checkpointed
//     offsets as the consumer group's committed offsets.
//   - group membership, Join: a consumer group (cooperative-sticky) that only
//     decides which process owns which partitions; it never fetches. Each
//     member is told the partitions it gains with the committed offset to
//     resume from, and the partitions it loses before they move, so that it
//     can checkpoint and commit first. Commits for partitions a member does not
//     own are refused.
//
// Exactly-once rests on offsets, not on Kafka transactions: the stream state
// and the offsets it reflects are checkpointed together, the committed
// offsets are written only after the checkpoint is durable, and a reader
// resumes from exactly the checkpointed offset. A duplicate produced by a
// client retry of a failed Append is a new record (the idempotent producer only
// removes duplicates of its own internal retries). Append is bounded in time
// (ProduceTimeout, plus up to about a second): a record in flight when the
// deadline passes is failed even though the broker may have written it, so
// an Append that failed may still have landed, and a client that retries it
// after the 503 produces it twice: clients send an event_id, and the
// stream's duplicate filter (internal/dedupe) counts the event once.
//
// What it is not: a transactional producer. A batch spanning several
// partitions that fails part way may have landed in some partitions; it is
// not acknowledged, as with seglog after a crash.
package kafkalog
