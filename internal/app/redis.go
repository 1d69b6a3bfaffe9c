package app

import (
	"context"
	"fmt"
	"time"

	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/feature/redisstore"
)

// exportRedis writes what the stream changed to Redis every interval,
// paired with the offsets it reflects (see redisstore). A failed write is
// retried with the next one; newer values replace pending older ones.
func (a *App) exportRedis(ctx context.Context, rs *redisstore.Store, interval time.Duration) error {
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
	flush := func(ctx context.Context) {
		if time.Since(lastCheck) > time.Second || !synced {
			lastCheck = time.Now()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			cur, err := rs.Epoch(cctx)
			cancel()
			if err != nil {
				return // down: retry on the next tick
			}
			if cur != epoch {
				if synced {
					a.Logger.Warn("redis lost its data; writing the whole online state again")
				}
				a.Store.MarkAllDirty()
				synced = false
			}
		}
		var offs []int64
		var d memstore.Dirty
		a.Proc.Consistent(func(o []int64) {
			offs = o
			d = a.Store.TakeDirty()
		})
		for _, u := range d.Users {
			pendingU[u.ID] = u
		}
		for _, p := range d.Products {
			pendingP[p.ID] = p
		}
		for id, c := range d.CoVisit {
			pendingC[id] = c
		}
		b := redisstore.Batch{Offsets: offs, CoVisit: pendingC}
		n := a.Log.Partitions()
		for id, u := range pendingU {
			b.Users = append(b.Users, u)
			b.UserPart = append(b.UserPart, partitionOf(id, n))
		}
		for _, p := range pendingP {
			b.Products = append(b.Products, p)
		}
		if ix := a.Store.Index(); ix.Built != lastIndex {
			b.Index = ix
		}
		if !synced {
			b.Index = a.Store.Index()
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
			if rs.SetEpoch(cctx, epoch) == nil {
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
