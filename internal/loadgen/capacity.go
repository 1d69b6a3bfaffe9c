package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Capacity measures how many recommend requests per second the server at
// o.BaseURL answers with a 2xx when it is kept busy: a closed loop of
// workers, each sending its next request as soon as the last is answered,
// for d. Unlike Run it is not a latency measurement (a closed loop hides
// queueing); it only finds the rate an open-loop run can then be set
// against. Shed requests (503) are not counted; with admission control the
// result is the goodput at that concurrency. Users, Timeout, Seed and
// HTTPClient are used from o.
func Capacity(ctx context.Context, o Options, workers int, d time.Duration) (float64, error) {
	o = o.withDefaults()
	if err := o.validate(false); err != nil {
		return 0, fmt.Errorf("loadgen options: %w", err)
	}
	if workers < 1 || d <= 0 {
		return 0, fmt.Errorf("capacity: %d workers for %v: want at least 1 for a positive time", workers, d)
	}
	client := o.HTTPClient
	if client == nil {
		var t *http.Transport
		client, t = newClient(workers)
		defer t.CloseIdleConnections()
	}
	base := strings.TrimRight(o.BaseURL, "/")
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := newRand(o.Seed, 10+uint64(w))
			for ctx.Err() == nil {
				body := append(appendID([]byte(`{"user_id":"`), 'u', rng.IntN(o.Users)), `","num_recommendations":10}`...)
				status, _, _ := send(ctx, client, o.Timeout, http.MethodPost, base+"/v1/recommend", "application/json", body)
				if ctx.Err() != nil {
					return // cut off by the end of the measurement: not counted
				}
				if ok2xx(status) {
					ok.Add(1)
				} else if status == 0 || status == http.StatusServiceUnavailable {
					time.Sleep(time.Millisecond) // no busy loop against a refusing server
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start).Seconds()
	if n := ok.Load(); n == 0 {
		return 0, fmt.Errorf("capacity: no request to %s/v1/recommend succeeded in %v", base, d)
	}
	return float64(ok.Load()) / took, nil
}
