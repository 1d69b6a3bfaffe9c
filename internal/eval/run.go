package eval

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
)

// Result is one strategy's figures over a dataset's evaluated users.
type Result struct {
	Name     string        `json:"name"`
	HitRate  float64       `json:"hit_rate@10"`
	NDCG     float64       `json:"ndcg@10"`
	Recall   float64       `json:"recall@20"`
	MRR      float64       `json:"mrr@10"`
	Coverage float64       `json:"coverage"`
	Users    int           `json:"users"`
	PerUser  time.Duration `json:"-"`
	Fit      time.Duration `json:"-"`
}

// EvalOptions configure Evaluate.
type EvalOptions struct {
	K       int // 0 means 10 (HitRate, NDCG, MRR)
	RecallK int // 0 means 20
	Threads int // 0 means GOMAXPROCS
	// Progress, if set, is called now and then with users done.
	Progress func(done, total int)
}

// Evaluate fits s on ds's training data and scores every evaluated user:
// masked items and items outside the universe are not ranked; ties are
// scored by their expectation. Coverage is the share of the ranked
// universe that appears in some user's top K (ties broken by item index).
func Evaluate(ctx context.Context, ds *Dataset, s Strategy, o EvalOptions) (Result, error) {
	if o.K == 0 {
		o.K = 10
	}
	if o.RecallK == 0 {
		o.RecallK = 20
	}
	if o.Threads <= 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	res := Result{Name: s.Name(), Users: len(ds.Eval)}
	t0 := time.Now()
	if err := s.Fit(ctx, ds); err != nil {
		return res, fmt.Errorf("%s: fit: %w", s.Name(), err)
	}
	res.Fit = time.Since(t0)
	t1 := time.Now()
	depth := max(o.K, o.RecallK)
	var mu sync.Mutex
	var sum Metrics
	shown := make([]bool, len(ds.Items))
	next, done := 0, 0
	var wg sync.WaitGroup
	var firstErr error
	for w := 0; w < o.Threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]float64, len(ds.Items))
			var local Metrics
			var tops []int32
			for {
				mu.Lock()
				if next >= len(ds.Eval) || ctx.Err() != nil {
					sum.HitRate += local.HitRate
					sum.NDCG += local.NDCG
					sum.Recall += local.Recall
					sum.MRR += local.MRR
					for _, it := range tops {
						shown[it] = true
					}
					if ctx.Err() != nil && firstErr == nil {
						firstErr = ctx.Err()
					}
					mu.Unlock()
					return
				}
				eu := ds.Eval[next]
				next++
				done++
				if o.Progress != nil && done%500 == 0 {
					o.Progress(done, len(ds.Eval))
				}
				mu.Unlock()
				clear(out)
				s.Score(eu.User, out)
				for i := range out {
					if !ds.Universe[i] {
						out[i] = math.NaN()
					}
				}
				for i := range eu.Mask {
					out[i] = math.NaN()
				}
				r := Rank(out, depth)
				m := Score(r, eu.Truth, o.K, o.RecallK)
				local.HitRate += m.HitRate
				local.NDCG += m.NDCG
				local.Recall += m.Recall
				local.MRR += m.MRR
				tops = append(tops, r.Top(o.K)...)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	n := float64(len(ds.Eval))
	if n > 0 {
		res.HitRate, res.NDCG, res.Recall, res.MRR = sum.HitRate/n, sum.NDCG/n, sum.Recall/n, sum.MRR/n
		res.PerUser = time.Since(t1) / time.Duration(len(ds.Eval))
	}
	universe, cov := 0, 0
	for i, u := range ds.Universe {
		if u {
			universe++
			if shown[i] {
				cov++
			}
		}
	}
	if universe > 0 {
		res.Coverage = float64(cov) / float64(universe)
	}
	return res, nil
}
