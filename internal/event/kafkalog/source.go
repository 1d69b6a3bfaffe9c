package kafkalog

import (
	"context"

	"github.com/recohq/reco/internal/stream"
)

// Source is the Log as the stream processor reads it: the stream.Source
// contract over Kafka.
type Source struct{ l *Log }

var _ stream.Source = Source{}

var _ stream.Reader = (*Reader)(nil)

// Source returns the stream.Source view of l.
func (l *Log) Source() Source { return Source{l} }

// Partitions returns the topic's number of partitions.
func (s Source) Partitions() int { return s.l.Partitions() }

// EndOffset returns the high watermark of p (see Log.EndOffset).
func (s Source) EndOffset(p int) int64 { return s.l.EndOffset(p) }

// Open returns a Reader of p from offset from (see Log.NewReader).
func (s Source) Open(p int, from int64) (stream.Reader, error) {
	r, err := s.l.NewReader(p, from)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Commit stores off as the group's committed offset of p. The processor
// calls it only once the checkpoint holding off is durable, so the committed
// offsets never run ahead of the state. A failure (the bus is down, or p is
// no longer this member's) goes to Hooks.OnCommitError: the next checkpoint
// commits again, and a new owner resumes from an older offset whose records
// the checkpointed state already reflects only if it is this same state.
func (s Source) Commit(p int, off int64) {
	err := s.l.CommitOffsets(context.Background(), map[int32]int64{int32(p): off})
	if err != nil {
		if h := s.l.opt.Hooks.OnCommitError; h != nil {
			h(int32(p), off, err)
		}
	}
}
