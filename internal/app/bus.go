package app

import (
	"context"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/breaker"
	"github.com/recohq/reco/internal/event/kafkalog"
	"github.com/recohq/reco/internal/event/seglog"
	"github.com/recohq/reco/internal/stream"
)

// bus is the event log as the rest of the process uses it: the embedded
// segment log, or a Kafka topic shared by several processes. Append
// returns only once every record is durable (fsynced, or acknowledged by
// Kafka); its errors carry a reco.Kind (Unavailable, NoSpace).
type bus interface {
	Partitions() int
	Append(ctx context.Context, recs []busRecord) error
	// EndOffset is the offset the next record of p will get.
	EndOffset(p int) int64
	// StartOffset is the oldest offset of p still held.
	StartOffset(p int) int64
	NewReader(p int, from int64) (stream.Reader, error)
	Close() error
}

// busRecord is one record to append: its partition, its key (the user or
// product id; Kafka's key) and its binary log encoding.
type busRecord struct {
	Partition int
	Key       string
	Data      []byte
}

type segBus struct{ l *seglog.Log }

func (b segBus) Partitions() int         { return b.l.Partitions() }
func (b segBus) EndOffset(p int) int64   { return b.l.EndOffset(p) }
func (b segBus) StartOffset(p int) int64 { return b.l.StartOffset(p) }
func (b segBus) Close() error            { return b.l.Close() }

func (b segBus) Append(ctx context.Context, recs []busRecord) error {
	out := make([]seglog.Record, len(recs))
	for i, r := range recs {
		out[i] = seglog.Record{Partition: r.Partition, Data: r.Data}
	}
	_, err := b.l.Append(ctx, out)
	return err
}

func (b segBus) NewReader(p int, from int64) (stream.Reader, error) {
	r, err := b.l.NewReader(p, from)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// kafkaBus produces through a circuit breaker: while Kafka is down an
// ingest fails at once (503, Retry-After) instead of holding the request
// for the producer's whole timeout; a probe every second finds it back.
type kafkaBus struct {
	l  *kafkalog.Log
	br *breaker.Breaker // nil: none
}

func (b kafkaBus) Partitions() int       { return b.l.Partitions() }
func (b kafkaBus) EndOffset(p int) int64 { return b.l.EndOffset(p) }
func (b kafkaBus) Close() error          { return b.l.Close() }

// StartOffset asks the brokers; when they do not answer it is 0, and a
// reader opened there fails with an out-of-range error instead of
// silently skipping records.
func (b kafkaBus) StartOffset(p int) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := b.l.StartOffset(ctx, p)
	if err != nil {
		return 0
	}
	return s
}

func (b kafkaBus) Append(ctx context.Context, recs []busRecord) error {
	out := make([]kafkalog.Record, len(recs))
	for i, r := range recs {
		out[i] = kafkalog.Record{Partition: r.Partition, Key: []byte(r.Key), Data: r.Data}
	}
	if b.br != nil {
		if err := b.br.Allow(); err != nil {
			return reco.E("kafka append", reco.Unavailable, err)
		}
	}
	_, err := b.l.Append(ctx, out)
	if b.br != nil {
		if reco.KindOf(err) == reco.Invalid {
			b.br.Done(nil) // a bad request, not a broken bus
		} else {
			b.br.Done(err)
		}
	}
	return err
}

func (b kafkaBus) NewReader(p int, from int64) (stream.Reader, error) {
	r, err := b.l.NewReader(p, from)
	if err != nil {
		return nil, err
	}
	return r, nil
}
