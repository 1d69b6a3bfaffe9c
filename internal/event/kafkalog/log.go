package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/recohq/reco"
)

// EncodingHeader is the record header that marks a value in the binary log
// encoding (event.AppendEvent and friends). Records without it are JSON.
const EncodingHeader = "reco-enc"

// EncodingBinary is EncodingHeader's value for version 1 of the binary log
// encoding.
const EncodingBinary = "bin1"

var binHeaders = []kgo.RecordHeader{{Key: EncodingHeader, Value: []byte(EncodingBinary)}}

// ErrOutOfRange is wrapped by the error of NewReader and Reader.Next when
// an offset is outside the partition: below its start (deleted by retention)
// or beyond its end.
var ErrOutOfRange = errors.New("offset out of range")

// ErrClosed is wrapped by the error of any call on a closed Log or Reader.
var ErrClosed = errors.New("closed")

// Record is one record to append.
type Record struct {
	Partition int    // in [0, Partitions())
	Key       []byte // the user id (or product id): Kafka's key
	Data      []byte // the binary log encoding
}

// Log is a Kafka topic used as the event log. Its methods are safe for
// concurrent use.
type Log struct {
	opt   Options
	cl    *kgo.Client // producer and admin requests
	adm   *kadm.Client
	parts int

	endMu   sync.Mutex
	end     []int64 // high watermarks, never decreasing
	endNext time.Time

	mu      sync.Mutex
	readers map[*Reader]struct{}
	member  atomic.Pointer[Member]
	closed  atomic.Bool
}

// endTTL is how long EndOffset reuses a listing of the high watermarks; a
// failed listing is retried after endBackoff.
const (
	endTTL     = 100 * time.Millisecond
	endBackoff = 2 * time.Second
)

// Open connects to the cluster and returns the Log of o.Topic, creating the
// topic with o.Partitions partitions if it does not exist. An existing topic
// keeps its partition count: Partitions reports it. Brokers that cannot be
// reached within o.AdminTimeout are a reco.Unavailable error.
func Open(ctx context.Context, o Options) (*Log, error) {
	const op = "kafkalog.Open"
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, reco.E(op, reco.Invalid, err)
	}
	opts := append(o.clientOpts(),
		kgo.DefaultProduceTopic(o.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(o.ProduceTimeout),
		kgo.ProducerLinger(0),
		// Bounded Append over duplicate avoidance: without this, a record
		// in flight to a broker that went away is waited for forever. See
		// the package comment.
		kgo.AllowIdempotentProduceCancellation(),
		// A record's deadline is checked when the producer acts on a
		// partition, which waits for a metadata refresh after a broker
		// failure: keep that wait well under ProduceTimeout.
		kgo.MetadataMinAge(min(o.ProduceTimeout/4, time.Second)),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, reco.E(op, reco.Invalid, err)
	}
	l := &Log{opt: o, cl: cl, adm: kadm.NewClient(cl), readers: make(map[*Reader]struct{})}
	if err := l.ensureTopic(ctx); err != nil {
		cl.Close()
		return nil, reco.E(op, reco.KindOf(err), err)
	}
	l.end = make([]int64, l.parts)
	return l, nil
}

// ensureTopic sets l.parts from the topic's metadata, creating the topic if
// it is missing.
func (l *Log) ensureTopic(ctx context.Context) error {
	for try := 0; ; try++ {
		actx, cancel := context.WithTimeout(ctx, l.opt.AdminTimeout)
		tds, err := l.adm.ListTopics(actx, l.opt.Topic)
		cancel()
		if err != nil {
			return reco.E("", reco.Unavailable, fmt.Errorf("list topic %s: %w", l.opt.Topic, err))
		}
		td := tds[l.opt.Topic]
		switch {
		case td.Err == nil && len(td.Partitions) > 0:
			l.parts = len(td.Partitions)
			return nil
		case td.Err != nil && !errors.Is(td.Err, kerr.UnknownTopicOrPartition):
			return reco.E("", reco.Unavailable, fmt.Errorf("topic %s: %w", l.opt.Topic, td.Err))
		case try >= 10:
			return reco.E("", reco.Unavailable, fmt.Errorf("topic %s: not visible after creation", l.opt.Topic))
		}
		if try == 0 {
			actx, cancel := context.WithTimeout(ctx, l.opt.AdminTimeout)
			_, err := l.adm.CreateTopic(actx, int32(l.opt.Partitions), l.opt.ReplicationFactor, nil, l.opt.Topic)
			cancel()
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				return reco.E("", reco.Unavailable, fmt.Errorf("create topic %s: %w", l.opt.Topic, err))
			}
		}
		select {
		case <-ctx.Done():
			return reco.E("", reco.Unavailable, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Topic returns the topic's name.
func (l *Log) Topic() string { return l.opt.Topic }

// Group returns the consumer group's name.
func (l *Log) Group() string { return l.opt.Group }

// Partitions returns the number of partitions of the topic, as of Open.
func (l *Log) Partitions() int { return l.parts }

// Close closes the producer. Readers and a Member must be closed first;
// Close closes any still open.
func (l *Log) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	if m := l.member.Load(); m != nil {
		m.Close()
	}
	l.mu.Lock()
	rs := make([]*Reader, 0, len(l.readers))
	for r := range l.readers {
		rs = append(rs, r)
	}
	l.mu.Unlock()
	for _, r := range rs {
		r.Close()
	}
	l.cl.Close()
	return nil
}

// Append produces recs, each to its Partition with its Key, and returns
// their offsets once every record is acknowledged by the brokers (acks=all,
// idempotent producer). recs is not retained after Append returns.
//
// On any error no offsets are returned and the caller must not acknowledge
// the batch: brokers that cannot be reached (or do not answer within
// ProduceTimeout, or ctx ending) are reco.Unavailable, a record over the
// broker's size limit is reco.TooLarge, a bad partition is reco.Invalid.
// Some records of a failed batch may still have been written.
func (l *Log) Append(ctx context.Context, recs []Record) ([]int64, error) {
	const op = "kafkalog.Append"
	if l.closed.Load() {
		return nil, reco.E(op, reco.Unavailable, ErrClosed)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	ks := make([]kgo.Record, len(recs))
	ptrs := make([]*kgo.Record, len(recs))
	for i := range recs {
		p := recs[i].Partition
		if p < 0 || p >= l.parts {
			return nil, reco.Errorf(op, reco.Invalid, "record %d: partition %d not in [0, %d)", i, p, l.parts)
		}
		ks[i] = kgo.Record{Topic: l.opt.Topic, Partition: int32(p), Key: recs[i].Key, Value: recs[i].Data, Headers: binHeaders}
		ptrs[i] = &ks[i]
	}
	ctx, cancel := context.WithTimeout(ctx, l.opt.ProduceTimeout)
	defer cancel()
	// ProduceSync honours ctx, but a record already handed to a broker
	// connection that died can keep it waiting far longer; never let the
	// caller (an HTTP request) wait past its deadline for that. The produce
	// goes on in the background and may still land: the batch is not
	// acknowledged either way.
	done := make(chan kgo.ProduceResults, 1)
	go func() { done <- l.cl.ProduceSync(ctx, ptrs...) }()
	var res kgo.ProduceResults
	select {
	case res = <-done:
	case <-ctx.Done():
		select {
		case res = <-done:
		case <-time.After(time.Second):
			return nil, reco.E(op, reco.Unavailable, fmt.Errorf("%d records not acknowledged: %w", len(recs), ctx.Err()))
		}
	}
	if err := res.FirstErr(); err != nil {
		failed := 0
		for _, r := range res {
			if r.Err != nil {
				failed++
			}
		}
		return nil, reco.E(op, produceKind(err), fmt.Errorf("%d of %d records not acknowledged: %w", failed, len(recs), err))
	}
	// ProduceSync sets each record's offset in place.
	offs := make([]int64, len(recs))
	l.endMu.Lock()
	for i := range ks {
		offs[i] = ks[i].Offset
		if p := ks[i].Partition; ks[i].Offset+1 > l.end[p] {
			l.end[p] = ks[i].Offset + 1
		}
	}
	l.endMu.Unlock()
	return offs, nil
}

// produceKind classifies a produce error: a record the broker will never
// take is the caller's; everything else means the bus is not available.
func produceKind(err error) reco.Kind {
	switch {
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return reco.TooLarge
	case errors.Is(err, kerr.InvalidRecord), errors.Is(err, kerr.CorruptMessage):
		return reco.Invalid
	}
	return reco.Unavailable
}

// EndOffset returns the high watermark of partition p: the offset the next
// record will get. It lists the offsets from the brokers at most every
// 100 ms; when they cannot be reached it returns the last value known (from
// a listing, an Append or a fetch).
func (l *Log) EndOffset(p int) int64 {
	if p < 0 || p >= l.parts {
		return 0
	}
	l.endMu.Lock()
	defer l.endMu.Unlock()
	if now := time.Now(); !l.closed.Load() && now.After(l.endNext) {
		ctx, cancel := context.WithTimeout(context.Background(), l.opt.AdminTimeout)
		offs, err := l.listOffsets(ctx, false)
		cancel()
		if err != nil {
			l.endNext = now.Add(endBackoff)
		} else {
			l.endNext = now.Add(endTTL)
			for i, o := range offs {
				l.end[i] = max(l.end[i], o)
			}
		}
	}
	return l.end[p]
}

// noteEnd records a high watermark seen in a fetch.
func (l *Log) noteEnd(p int32, hwm int64) {
	l.endMu.Lock()
	l.end[p] = max(l.end[p], hwm)
	l.endMu.Unlock()
}

// StartOffset returns the first offset still in partition p (records below
// it were deleted by retention), or an error.
func (l *Log) StartOffset(ctx context.Context, p int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opt.AdminTimeout)
	defer cancel()
	offs, err := l.listOffsets(ctx, true)
	if err != nil {
		return 0, reco.E("kafkalog.StartOffset", reco.Unavailable, err)
	}
	return offs[p], nil
}

// EndOffsets lists the high watermark of every partition from the brokers.
func (l *Log) EndOffsets(ctx context.Context) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opt.AdminTimeout)
	defer cancel()
	offs, err := l.listOffsets(ctx, false)
	if err != nil {
		return nil, reco.E("kafkalog.EndOffsets", reco.Unavailable, err)
	}
	l.endMu.Lock()
	for i, o := range offs {
		l.end[i] = max(l.end[i], o)
	}
	l.endMu.Unlock()
	return offs, nil
}

func (l *Log) listOffsets(ctx context.Context, start bool) ([]int64, error) {
	var lo kadm.ListedOffsets
	var err error
	if start {
		lo, err = l.adm.ListStartOffsets(ctx, l.opt.Topic)
	} else {
		lo, err = l.adm.ListEndOffsets(ctx, l.opt.Topic)
	}
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", l.opt.Topic, err)
	}
	offs := make([]int64, l.parts)
	for p := range offs {
		o, ok := lo.Lookup(l.opt.Topic, int32(p))
		if !ok {
			return nil, fmt.Errorf("list offsets of %s: partition %d missing", l.opt.Topic, p)
		}
		offs[p] = o.Offset
	}
	return offs, nil
}

// Committed returns the consumer group's committed offset (the next offset
// to process) of every partition that has one.
func (l *Log) Committed(ctx context.Context) (map[int32]int64, error) {
	const op = "kafkalog.Committed"
	ctx, cancel := context.WithTimeout(ctx, l.opt.AdminTimeout)
	defer cancel()
	resp, err := l.adm.FetchOffsets(ctx, l.opt.Group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return nil, reco.E(op, reco.Unavailable, fmt.Errorf("fetch offsets of group %s: %w", l.opt.Group, err))
	}
	out := make(map[int32]int64)
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == l.opt.Topic && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

// CommitOffsets stores offs (partition → next offset to process) as the
// consumer group's committed offsets. While this Log has joined the group
// (Join), the commit goes through the member and is refused, as
// reco.Conflict, for partitions the member does not own; otherwise it is a
// plain commit, which Kafka accepts only while the group has no members.
func (l *Log) CommitOffsets(ctx context.Context, offs map[int32]int64) error {
	const op = "kafkalog.CommitOffsets"
	if len(offs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.opt.AdminTimeout)
	defer cancel()
	if m := l.member.Load(); m != nil {
		if err := m.commit(ctx, offs); err != nil {
			return reco.E(op, reco.KindOf(err), err)
		}
		return nil
	}
	os := make(kadm.Offsets)
	for p, o := range offs {
		os.Add(kadm.Offset{Topic: l.opt.Topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	resp, err := l.adm.CommitOffsets(ctx, l.opt.Group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		kind := reco.Unavailable
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) {
			kind = reco.Conflict
		}
		return reco.E(op, kind, fmt.Errorf("commit to group %s: %w", l.opt.Group, err))
	}
	return nil
}

// Lag returns, for each partition a Reader of this Log is reading, how many
// records are in the partition beyond what the reader has returned: the
// newest high watermark known (from the reader's fetches, this Log's
// Appends and EndOffset listings) minus the reader's position. It does no
// I/O.
func (l *Log) Lag() map[int32]int64 {
	l.mu.Lock()
	rs := make([]*Reader, 0, len(l.readers))
	for r := range l.readers {
		rs = append(rs, r)
	}
	l.mu.Unlock()
	l.endMu.Lock()
	end := slices.Clone(l.end)
	l.endMu.Unlock()
	out := make(map[int32]int64, len(rs))
	for _, r := range rs {
		lag := max(0, max(r.hwm.Load(), end[r.part])-r.pos.Load())
		if old, ok := out[r.part]; !ok || lag > old {
			out[r.part] = lag
		}
	}
	return out
}

// CommittedLag returns, for every partition, the high watermark minus the
// group's committed offset (the whole partition when nothing is committed):
// the lag of the group as a whole, whichever process owns the partition.
func (l *Log) CommittedLag(ctx context.Context) (map[int32]int64, error) {
	end, err := l.EndOffsets(ctx)
	if err != nil {
		return nil, err
	}
	com, err := l.Committed(ctx)
	if err != nil {
		return nil, err
	}
	var start []int64
	out := make(map[int32]int64, len(end))
	for p, e := range end {
		c, ok := com[int32(p)]
		if !ok {
			if start == nil {
				sctx, cancel := context.WithTimeout(ctx, l.opt.AdminTimeout)
				start, err = l.listOffsets(sctx, true)
				cancel()
				if err != nil {
					return nil, reco.E("kafkalog.CommittedLag", reco.Unavailable, err)
				}
			}
			c = start[p]
		}
		out[int32(p)] = max(0, e-c)
	}
	return out, nil
}
