package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/recohq/reco"
)

// GroupOptions tell a Member what to do when its partitions change. The
// callbacks are called one at a time, from the group's goroutine; the group
// waits for them (up to its rebalance timeout, 60 s), so a callback should do
// what it must and return. None may call Member.Close or Log.Close.
type GroupOptions struct {
	// OnAssigned is called with the partitions this member gains. Read
	// each from ResumeOffsets.
	OnAssigned func(ctx context.Context, parts []int32)
	// OnRevoked is called with the partitions this member is about to
	// lose, before any other member may own them: stop reading them,
	// checkpoint and Commit, then return. The partitions stay owned
	// (commits accepted) until it returns.
	OnRevoked func(ctx context.Context, parts []int32)
	// OnLost is called when the member was dropped from the group (it
	// missed its session timeout): others may own parts already, so
	// commits for them are refused. Stop reading them. nil means OnRevoked.
	OnLost func(ctx context.Context, parts []int32)
	// InstanceID, if set, makes the membership static (KIP-345): a
	// restarted process with the same id gets its partitions back without a
	// rebalance, if it returns within the session timeout.
	InstanceID string
}

// Member is this process's membership of the consumer group. The group
// client only balances partitions (cooperative-sticky) and commits; it
// never fetches records: Readers do, from exact offsets.
type Member struct {
	l  *Log
	o  GroupOptions
	cl *kgo.Client

	mu    sync.Mutex
	owned map[int32]bool
	ch    chan []int32
}

// Join joins the consumer group Options.Group and returns at once; the
// first assignment arrives through OnAssigned and Assignments. A Log joins
// at most once at a time; while it is a member, CommitOffsets and
// Source.Commit go through the member.
func (l *Log) Join(ctx context.Context, o GroupOptions) (*Member, error) {
	const op = "kafkalog.Join"
	if l.closed.Load() {
		return nil, reco.E(op, reco.Unavailable, ErrClosed)
	}
	m := &Member{l: l, o: o, owned: make(map[int32]bool), ch: make(chan []int32, 1)}
	if !l.member.CompareAndSwap(nil, m) {
		return nil, reco.Errorf(op, reco.Conflict, "already a member of group %s", l.opt.Group)
	}
	opts := append(l.opt.clientOpts(),
		kgo.ConsumerGroup(l.opt.Group),
		kgo.ConsumeTopics(l.opt.Topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(l.opt.SessionTimeout),
		kgo.HeartbeatInterval(l.opt.SessionTimeout/5),
		kgo.OnPartitionsAssigned(m.assigned),
		kgo.OnPartitionsRevoked(m.revoked),
		kgo.OnPartitionsLost(m.lost),
	)
	if o.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(o.InstanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		l.member.Store(nil)
		return nil, reco.E(op, reco.Invalid, err)
	}
	// The group client decides ownership only; Readers fetch.
	cl.PauseFetchTopics(l.opt.Topic)
	m.cl = cl
	return m, nil
}

// Owned returns the partitions this member owns now, sorted.
func (m *Member) Owned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ownedLocked()
}

func (m *Member) ownedLocked() []int32 {
	out := make([]int32, 0, len(m.owned))
	for p := range m.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Assignments delivers the owned partitions (sorted) after every change.
// Only the latest set waits in the channel: a slow receiver misses
// intermediate sets, never the current one. The channel is not closed.
func (m *Member) Assignments() <-chan []int32 { return m.ch }

func (m *Member) publishLocked() {
	cur := m.ownedLocked()
	select {
	case <-m.ch:
	default:
	}
	m.ch <- cur
}

// ResumeOffsets returns the offset each of parts resumes from: the group's
// committed offset, or the partition's start if nothing is committed.
func (m *Member) ResumeOffsets(ctx context.Context, parts []int32) (map[int32]int64, error) {
	com, err := m.l.Committed(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	var start []int64
	for _, p := range parts {
		if c, ok := com[p]; ok {
			out[p] = c
			continue
		}
		if start == nil {
			sctx, cancel := context.WithTimeout(ctx, m.l.opt.AdminTimeout)
			start, err = m.l.listOffsets(sctx, true)
			cancel()
			if err != nil {
				return nil, reco.E("kafkalog.ResumeOffsets", reco.Unavailable, err)
			}
		}
		out[p] = start[p]
	}
	return out, nil
}

func (m *Member) assigned(ctx context.Context, _ *kgo.Client, a map[string][]int32) {
	parts := a[m.l.opt.Topic]
	if len(parts) == 0 {
		return
	}
	slices.Sort(parts)
	m.mu.Lock()
	for _, p := range parts {
		m.owned[p] = true
	}
	m.publishLocked()
	m.mu.Unlock()
	if m.o.OnAssigned != nil {
		m.o.OnAssigned(ctx, parts)
	}
}

func (m *Member) revoked(ctx context.Context, _ *kgo.Client, r map[string][]int32) {
	parts := r[m.l.opt.Topic]
	if len(parts) == 0 {
		return
	}
	slices.Sort(parts)
	if m.o.OnRevoked != nil {
		m.o.OnRevoked(ctx, parts)
	}
	m.drop(parts)
}

func (m *Member) lost(ctx context.Context, _ *kgo.Client, r map[string][]int32) {
	parts := r[m.l.opt.Topic]
	if len(parts) == 0 {
		return
	}
	slices.Sort(parts)
	m.drop(parts)
	if f := m.o.OnLost; f != nil {
		f(ctx, parts)
	} else if m.o.OnRevoked != nil {
		m.o.OnRevoked(ctx, parts)
	}
}

func (m *Member) drop(parts []int32) {
	m.mu.Lock()
	for _, p := range parts {
		delete(m.owned, p)
	}
	m.publishLocked()
	m.mu.Unlock()
}

// commit commits offs through the group, for owned partitions only.
func (m *Member) commit(ctx context.Context, offs map[int32]int64) error {
	m.mu.Lock()
	for p := range offs {
		if !m.owned[p] {
			m.mu.Unlock()
			return reco.Errorf("", reco.Conflict, "partition %d is not owned by this member of group %s", p, m.l.opt.Group)
		}
	}
	m.mu.Unlock()
	eo := make(map[int32]kgo.EpochOffset, len(offs))
	for p, o := range offs {
		eo[p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var cerr error
	m.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{m.l.opt.Topic: eo},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
						cerr = fmt.Errorf("partition %d: %w", p.Partition, err)
					}
				}
			}
		})
	if cerr != nil {
		kind := reco.Unavailable
		if errors.Is(cerr, kerr.UnknownMemberID) || errors.Is(cerr, kerr.IllegalGeneration) ||
			errors.Is(cerr, kerr.RebalanceInProgress) || errors.Is(cerr, kerr.FencedInstanceID) {
			kind = reco.Conflict
		}
		return reco.E("", kind, fmt.Errorf("commit to group %s: %w", m.l.opt.Group, cerr))
	}
	return nil
}

// Close leaves the group: OnRevoked is called for the partitions still
// owned (commit there), then they move to the other members. Do not call it
// from a GroupOptions callback.
func (m *Member) Close() error {
	m.cl.Close()
	m.l.member.CompareAndSwap(m, nil)
	return nil
}
