package app

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/recohq/reco/internal/config"

	"golang.org/x/sync/errgroup"

	"github.com/recohq/reco/internal/recommend"
)

// precomputed is the batch inference of the case study: every active
// user's top N, computed ahead and served when the live path cannot be.
type precomputed struct {
	At    time.Time
	Items map[string][]recommend.Item
}

func (a *App) precomputedPath() string { return filepath.Join(a.Config.DataDir, "precomputed.gob") }

// loadPrecomputed restores the last precomputation, if any.
func (a *App) loadPrecomputed() {
	f, err := os.Open(a.precomputedPath())
	if err != nil {
		return
	}
	defer f.Close()
	var p precomputed
	if err := gob.NewDecoder(f).Decode(&p); err != nil {
		a.Logger.Warn("ignoring unreadable precomputed recommendations", "err", err)
		return
	}
	a.pre.Store(&p)
}

// Precomputed returns a user's precomputed recommendations: from this
// process's own set, else (Redis online store) from Redis, where the
// precomputing process also wrote them for every API replica.
func (a *App) Precomputed(userID string) ([]recommend.Item, bool) {
	if p := a.pre.Load(); p != nil {
		if items, ok := p.Items[userID]; ok {
			return items, true
		}
	}
	if a.Redis == nil {
		return nil, false
	}
	// Only on the degraded path, within the request's budget.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	b, ok, err := a.Redis.ReadPrecomputed(ctx, userID)
	if err != nil || !ok {
		return nil, false
	}
	var items []recommend.Item
	if json.Unmarshal(b, &items) != nil {
		return nil, false
	}
	return items, true
}

// precomputedTTL is how long precomputed lists stay in Redis: two daily
// runs, so that one failed run leaves the previous lists in place.
const precomputedTTL = 48 * time.Hour

// activeUsers are the users active since t whose state this process keeps:
// every user (embedded log), or those of the partitions it runs (Kafka).
func (a *App) activeUsers(since int64) []string {
	if a.kafka == nil {
		return a.Store.ActiveUsers(since)
	}
	var out []string
	for _, st := range a.kafka.stores() {
		out = append(out, st.ActiveUsers(since)...)
	}
	return out
}

// PrecomputeStats summarises a precomputation.
type PrecomputeStats struct {
	Users    int
	Took     time.Duration
	Failures int
}

// Precompute computes the top n for every user active in the last 30 days
// with bounded parallelism, replaces the served set atomically and writes
// it to the data dir. progress (may be nil) is called now and then.
func (a *App) Precompute(ctx context.Context, n, parallelism int, progress func(done, total int)) (PrecomputeStats, error) {
	start := time.Now()
	users := a.activeUsers(a.now().Add(-30 * 24 * time.Hour).UnixMilli())
	out := make([][]recommend.Item, len(users))
	var done, failed atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallelism, 1))
	for i, u := range users {
		g.Go(func() error {
			resp, err := a.Rec.Recommend(gctx, recommend.Request{UserID: u, N: n, NoLog: true, NoBudgets: true})
			if err != nil {
				failed.Add(1)
			} else if resp.Fallback == "" {
				out[i] = resp.Items
			}
			if d := done.Add(1); progress != nil && d%1000 == 0 {
				progress(int(d), len(users))
			}
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return PrecomputeStats{}, fmt.Errorf("precompute: %w", err)
	}
	p := &precomputed{At: a.now().UTC(), Items: make(map[string][]recommend.Item, len(users))}
	for i, u := range users {
		if out[i] != nil {
			p.Items[u] = out[i]
		}
	}
	a.pre.Store(p)
	tmp := a.precomputedPath() + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return PrecomputeStats{}, fmt.Errorf("precompute: %w", err)
	}
	if err := gob.NewEncoder(f).Encode(p); err != nil {
		f.Close()
		return PrecomputeStats{}, fmt.Errorf("precompute: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return PrecomputeStats{}, fmt.Errorf("precompute: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, a.precomputedPath()); err != nil {
		return PrecomputeStats{}, fmt.Errorf("precompute: %w", err)
	}
	if a.Redis != nil {
		// For every API replica (and this process after a restart).
		lists := make(map[string][]byte, len(p.Items))
		for u, items := range p.Items {
			if b, err := json.Marshal(items); err == nil {
				lists[u] = b
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := a.Redis.WritePrecomputed(wctx, lists, precomputedTTL)
		cancel()
		if err != nil {
			return PrecomputeStats{}, fmt.Errorf("precompute: write to redis: %w", err)
		}
	}
	if progress != nil {
		progress(len(users), len(users))
	}
	return PrecomputeStats{Users: len(p.Items), Took: time.Since(start), Failures: int(failed.Load())}, nil
}

// schedulePrecompute runs Precompute on the recommend.precompute_schedule.
func (a *App) schedulePrecompute(ctx context.Context, spec string) error {
	sched, err := config.ParseSchedule(spec)
	if err != nil {
		return fmt.Errorf("recommend.precompute_schedule: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(sched.Next(time.Now()))):
		}
		st, err := a.Precompute(ctx, 20, 1, nil)
		if err != nil {
			if ctx.Err() == nil {
				a.Logger.Error("scheduled precompute", "err", err)
			}
			continue
		}
		a.Logger.Info("precomputed recommendations", "users", st.Users, "took", st.Took)
	}
}
