package kafkalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/event"
)

// badPrefix starts a bad-record marker. Its first byte is not a valid
// version of the binary log encoding, so event.Decode rejects the marker.
const badPrefix = "\x00kafkalog: bad record: "

// DecodeError reports why a record returned by a Reader is a bad-record
// marker (a JSON record that could not be transcoded), or nil if data is not
// one. The stream processor needs no special case: event.Decode fails on a
// marker, so the processor counts it (Hooks.OnBadRecord) and skips it.
func DecodeError(data []byte) error {
	if !bytes.HasPrefix(data, []byte(badPrefix)) {
		return nil
	}
	return errors.New(string(data[len(badPrefix):]))
}

// Reader reads one partition in offset order, from an exact offset. It is
// not safe for concurrent use; distinct Readers are independent (each has its
// own connection).
type Reader struct {
	l    *Log
	part int32
	cl   *kgo.Client
	buf  []*kgo.Record
	i    int
	out  []byte // the last transcoded record
	hwm  atomic.Int64
	pos  atomic.Int64 // offset after the last record returned
	err  error        // sticky
	done atomic.Bool
}

// NewReader returns a Reader of partition p positioned at offset from, which
// must be within [start, end] of the partition: from may equal the end
// offset, to wait for new records. An offset outside is a reco.Invalid error
// wrapping ErrOutOfRange; brokers that cannot be reached are
// reco.Unavailable. The Reader reads committed records only (read_committed):
// records of aborted transactions of other producers are skipped, leaving
// gaps in the offsets it returns.
func (l *Log) NewReader(p int, from int64) (*Reader, error) {
	const op = "kafkalog.NewReader"
	if l.closed.Load() {
		return nil, reco.E(op, reco.Unavailable, ErrClosed)
	}
	if p < 0 || p >= l.parts {
		return nil, reco.Errorf(op, reco.Invalid, "partition %d not in [0, %d)", p, l.parts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opt.AdminTimeout)
	start, err := l.listOffsets(ctx, true)
	var end []int64
	if err == nil {
		end, err = l.listOffsets(ctx, false)
	}
	cancel()
	if err != nil {
		return nil, reco.E(op, reco.Unavailable, err)
	}
	l.noteEnd(int32(p), end[p])
	if from < start[p] || from > end[p] {
		return nil, reco.E(op, reco.Invalid, fmt.Errorf("partition %d offset %d not in [%d, %d]: %w", p, from, start[p], end[p], ErrOutOfRange))
	}
	opts := append(l.opt.clientOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{l.opt.Topic: {int32(p): kgo.NewOffset().At(from)}}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, reco.E(op, reco.Invalid, err)
	}
	r := &Reader{l: l, part: int32(p), cl: cl}
	r.pos.Store(from)
	r.hwm.Store(end[p])
	l.mu.Lock()
	l.readers[r] = struct{}{}
	l.mu.Unlock()
	return r, nil
}

// Partition returns the partition r reads.
func (r *Reader) Partition() int32 { return r.part }

// Next returns the next record, waiting for one until ctx ends. data is valid
// until the next call. Records written by Append are returned as written;
// JSON records are returned in the binary log encoding, or as a bad-record
// marker (DecodeError) if they are not one valid event.
func (r *Reader) Next(ctx context.Context) (off int64, data []byte, err error) {
	for r.i >= len(r.buf) {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		if err := r.poll(ctx); err != nil {
			return 0, nil, err
		}
	}
	return r.take()
}

// TryNext returns the next record if one is already fetched; ok is false
// when none is. It never waits for the network.
func (r *Reader) TryNext() (off int64, data []byte, ok bool, err error) {
	if r.i >= len(r.buf) {
		//nolint:staticcheck // a nil context asks for buffered fetches only
		if err := r.poll(nil); err != nil {
			return 0, nil, false, err
		}
		if r.i >= len(r.buf) {
			return 0, nil, false, nil
		}
	}
	off, data, err = r.take()
	return off, data, err == nil, err
}

func (r *Reader) take() (int64, []byte, error) {
	rec := r.buf[r.i]
	r.buf[r.i] = nil
	r.i++
	r.pos.Store(rec.Offset + 1)
	return rec.Offset, r.decode(rec), nil
}

// poll refills buf from the client; with a nil ctx it takes only what is
// buffered.
func (r *Reader) poll(ctx context.Context) error {
	if r.err != nil {
		return r.err
	}
	if r.done.Load() {
		return reco.E("kafkalog.Reader", reco.Unavailable, ErrClosed)
	}
	fs := r.cl.PollRecords(ctx, 0)
	var ferr error
	r.buf, r.i = r.buf[:0], 0
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Err != nil {
			if ferr == nil {
				ferr = p.Err
			}
			return
		}
		if p.Partition != r.part {
			return
		}
		if p.HighWatermark > 0 {
			r.hwm.Store(p.HighWatermark)
			r.l.noteEnd(r.part, p.HighWatermark)
		}
		pos := r.pos.Load()
		for _, rec := range p.Records {
			if rec.Offset >= pos {
				r.buf = append(r.buf, rec)
			}
		}
	})
	if ferr == nil || len(r.buf) > 0 {
		return nil
	}
	switch {
	case errors.Is(ferr, context.Canceled) || errors.Is(ferr, context.DeadlineExceeded):
		if ctx != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return ferr
	case errors.Is(ferr, kgo.ErrClientClosed):
		return reco.E("kafkalog.Reader", reco.Unavailable, ErrClosed)
	case errors.Is(ferr, kerr.OffsetOutOfRange):
		r.err = reco.E("kafkalog.Reader", reco.Invalid, fmt.Errorf("partition %d at %d: %w", r.part, r.pos.Load(), ErrOutOfRange))
		return r.err
	}
	return reco.E("kafkalog.Reader", reco.Unavailable, fmt.Errorf("fetch partition %d: %w", r.part, ferr))
}

// decode returns rec's value in the binary log encoding.
func (r *Reader) decode(rec *kgo.Record) []byte {
	for _, h := range rec.Headers {
		if h.Key == EncodingHeader {
			if string(h.Value) == EncodingBinary {
				return rec.Value
			}
			return r.bad(rec, fmt.Errorf("unknown encoding %q", h.Value))
		}
	}
	evs, err := event.DecodeEvents(bytes.NewReader(rec.Value), rec.Timestamp, event.Limits{MaxItems: 1})
	if err == nil && len(evs) != 1 {
		err = fmt.Errorf("%d events in one record, want 1", len(evs))
	}
	if err != nil {
		return r.bad(rec, err)
	}
	// The time Kafka took the record stands for the time reco accepted it:
	// deterministic, so a replay transcodes to the same bytes.
	evs[0].Ingested = rec.Timestamp.UnixMilli()
	r.out = event.AppendEvent(r.out[:0], &evs[0])
	return r.out
}

func (r *Reader) bad(rec *kgo.Record, err error) []byte {
	if h := r.l.opt.Hooks.OnBadRecord; h != nil {
		h(rec.Partition, rec.Offset, err)
	}
	r.out = append(append(r.out[:0], badPrefix...), err.Error()...)
	return r.out
}

// Close stops the reader and closes its connection.
func (r *Reader) Close() error {
	if r.done.Swap(true) {
		return nil
	}
	r.l.mu.Lock()
	delete(r.l.readers, r)
	r.l.mu.Unlock()
	r.cl.Close()
	return nil
}
