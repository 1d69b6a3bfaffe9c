// Package seglog is the embedded durable event log: an append-only,
// partitioned log of opaque byte records kept in segment files in one
// directory. It plays the part Kafka plays in a multi-process deployment.
//
// Each partition is a directory (p000, p001, ...) of segment files named by
// the offset of their first record, zero-padded to 20 digits
// (00000000000000000000.seg). Offsets are dense record indices per partition
// (0, 1, 2, ...), never byte positions, and they never change across reopen.
// A record on disk is a 16-byte little-endian header followed by the payload:
//
//	length  uint32  payload length in bytes
//	crc     uint32  CRC-32C (Castagnoli) of the payload, masked as in LevelDB
//	                (rotate right 15, add 0xa282ead8) so a zeroed region
//	                never passes as an empty record
//	offset  uint64  the record's offset, checked when reading
//
// meta.json holds the format version and the partition count, which is fixed
// when the log is created. consumers.json holds the committed offsets
// reported through SetCommitted, saved by EnforceRetention and Close. LOCK is
// held (flock) while a Log is open so two processes cannot write one
// directory.
//
// Durability: with Fsync "always" Append returns after the data is fsynced;
// Appends that arrive while the writer is busy are written and fsynced
// together (group commit: one write per partition file and one fsync per
// file per group). A segment is always fsynced before the next one is
// created, and a created segment's directory entry is fsynced.
//
// Recovery: Open scans only the last segment of each partition. A torn tail
// (short header, short payload, bad length, offset mismatch or checksum
// mismatch) is truncated, reported by Recovered and Hooks.OnTruncate, and
// never served. Older segments are not read at Open; corruption in them is
// found by a Reader, which returns a *CorruptionError naming the file and
// byte position instead of skipping anything.
//
// Goroutines: Open starts one writer goroutine, which also runs the
// background fsync of Fsync "interval". Close stops it and waits for it.
//
// What it is not: it is not replicated, it has no consumer groups or
// partition assignment (callers pick partitions and track their own
// offsets; SetCommitted only gates retention), it does not compact, and it
// has no transactions across partitions: after a crash, a batch that was
// never acknowledged may survive in some partitions and not in others.
// A bad record in the last segment is treated as a torn tail, so bit rot
// there is truncated rather than reported.
package seglog
