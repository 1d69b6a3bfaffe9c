package app

import (
	"context"
	"fmt"
	"time"

	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/feature/redisstore"
	"github.com/recohq/reco/internal/stream"
)

// exportRedis writes what the stream changed to Redis every interval,
// paired with the offsets it reflects (see redisstore). A failed write is
// retried with the next one; newer values replace pending older ones.
//
// src is the whole embedded state (partition -1), or one partition's state
// in Kafka mode, whose shared keys go to that partition's contributions.
func (a *App) exportRedis(ctx context.Context, rs *redisstore.Store, interval time.Duration, src exportSource) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	pendingU := map[string]*feature.User{}
	pendingP := map[string]*feature.Product{}
	pendingC := map[string][]memstore.Scored{}
	var lastIndex int64
	// The epoch marker tells whether Redis still holds what was written:
	// missing (a new Redis, or one restarted without persistence) means
	// the whole state is written again.
	epoch := fmt.Sprintf("%d", time.Now().UnixNano())
	synced, lastCheck := false, time.Time{}
	// In Kafka mode each partition's writer has its own marker. A partition
	// that just (re)started writes its whole state first anyway: its
	// previous owner may have died before exporting all that its
	// checkpoint covers.
	getEpoch, setEpoch := rs.Epoch, rs.SetEpoch
	if p := src.partition; p >= 0 {
		getEpoch = func(ctx context.Context) (string, error) { return rs.PartitionEpoch(ctx, p) }
		setEpoch = func(ctx context.Context, v string) error { return rs.SetPartitionEpoch(ctx, p, v) }
	}
	flush := func(ctx context.Context) {
		if time.Since(lastCheck) > time.Second || !synced {
			lastCheck = time.Now()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			cur, err := getEpoch(cctx)
			cancel()
			if err != nil {
				return // down: retry on the next tick
			}
			if cur != epoch {
				if synced {
					a.Logger.Warn("redis lost its data; writing the whole online state again")
				}
				src.store.MarkAllDirty()
				synced = false
			}
		}
		var offs []int64
		var d memstore.Dirty
		src.proc.Consistent(func(o []int64) {
			offs = o
			d = src.store.TakeDirty()
		})
		if src.partition >= 0 {
			// The processor runs this partition alone: its one offset
			// goes to the partition's place in the vector.
			vec := make([]int64, src.partitions)
			vec[src.partition] = offs[0]
			offs = vec
		}
		for _, u := range d.Users {
			pendingU[u.ID] = u
		}
		for _, p := range d.Products {
			pendingP[p.ID] = p
		}
		for id, c := range d.CoVisit {
			pendingC[id] = c
		}
		b := redisstore.Batch{Offsets: offs, CoVisit: pendingC, Partition: src.partition}
		for id, u := range pendingU {
			b.Users = append(b.Users, u)
			if src.partition >= 0 {
				b.UserPart = append(b.UserPart, src.partition)
			} else {
				b.UserPart = append(b.UserPart, partitionOf(id, src.partitions))
			}
		}
		for _, p := range pendingP {
			b.Products = append(b.Products, p)
		}
		if ix := src.store.Index(); ix != nil && ix.Built != lastIndex {
			b.Index = ix
		}
		if !synced {
			b.Index = src.store.Index()
		}
		if len(b.Users)+len(b.Products)+len(b.CoVisit) == 0 && b.Index == nil {
			return
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := rs.Write(wctx, b)
		cancel()
		if err != nil {
			a.Metrics.RedisWriteErrors.Inc()
			a.Logger.Warn("redis export failed; retrying with the next batch", "err", err)
			return
		}
		a.Metrics.RedisWrites.WithLabelValues("written").Add(float64(st.Written))
		a.Metrics.RedisWrites.WithLabelValues("refused_older").Add(float64(st.Refused))
		if b.Index != nil {
			lastIndex = b.Index.Built
		}
		if !synced {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			if setEpoch(cctx, epoch) == nil {
				synced = true
			}
			cancel()
		}
		clear(pendingU)
		clear(pendingP)
		pendingC = map[string][]memstore.Scored{}
	}
	for {
		select {
		case <-ctx.Done():
			// Write what the final checkpoint covers before stopping.
			flush(context.Background())
			return nil
		case <-t.C:
			flush(ctx)
		}
	}
}

// exportSource is what exportRedis copies: a state, the processor that
// keeps it, and which partitions it covers.
type exportSource struct {
	store      *memstore.Store
	proc       *stream.Processor
	partition  int // -1: every partition (the embedded log); else the one partition in Kafka mode
	partitions int // of the log
}

// refreshRedisIndex loads the popularity index from Redis for serving.
func (a *App) refreshRedisIndex(ctx context.Context, rs *redisstore.Store) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := rs.RefreshIndex(rctx); err != nil && ctx.Err() == nil {
			a.Logger.Warn("redis index refresh", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
