package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	productBatch      = 1_000 // products per PUT /v1/products
	maxUserEvents     = 8     // history events per user: 2..maxUserEvents
	minPrepareTimeout = 30 * time.Second
	historySpan       = time.Hour // history timestamps fall within the last hour
)

// Prepare loads synthetic state for Run: o.Products catalog entries spread
// over 50 categories (PUT /v1/products, NDJSON batches of 1,000) and then a
// short history for each of o.Users users (2 to 8 events, mostly in two
// favourite categories, timestamps within the last hour; POST /v1/events in
// NDJSON batches of at most o.BatchSize events). o.PrepareWorkers batches are
// in flight at once; each may take max(o.Timeout, 30s). With o.Seed fixed the
// data is the same every time.
//
// Prepare stops at the first batch the server does not accept with a 2xx and
// returns an error naming the step, the batch, the status and the start of
// the response body. Rate, Scenario, Duration and Warmup are ignored.
func Prepare(ctx context.Context, o Options) error {
	o = o.withDefaults()
	if err := o.validate(false); err != nil {
		return fmt.Errorf("loadgen options: %w", err)
	}
	p := &preparer{o: o, base: strings.TrimRight(o.BaseURL, "/"), client: o.HTTPClient}
	if p.client == nil {
		var t *http.Transport
		p.client, t = newClient(o.PrepareWorkers)
		defer t.CloseIdleConnections()
	}
	start := time.Now()
	now := start.UnixMilli()

	nProducts := (o.Products + productBatch - 1) / productBatch
	err := p.phase(ctx, "products", http.MethodPut, "/v1/products", nProducts, o.Products, func(i int) ([]byte, int) {
		return productBatchBody(o, i)
	})
	if err != nil {
		return err
	}
	perBatch := max(1, o.BatchSize/maxUserEvents)
	nHistory := (o.Users + perBatch - 1) / perBatch
	err = p.phase(ctx, "history", http.MethodPost, "/v1/events", nHistory, o.Users, func(i int) ([]byte, int) {
		return historyBatchBody(o, i, perBatch, now)
	})
	if err != nil {
		return err
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "prepare: done: %d products, %d users, %d events in %s\n",
			o.Products, o.Users, p.events.Load(), time.Since(start).Round(time.Millisecond))
	}
	return nil
}

type preparer struct {
	o      Options
	base   string
	client *http.Client
	events atomic.Int64 // history events sent
}

// phase sends batches 0..n-1, built by build (body, items in it), through
// o.PrepareWorkers workers, reporting progress against total items.
func (p *preparer) phase(ctx context.Context, name, method, path string, n, total int, build func(i int) ([]byte, int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
	)
	var done atomic.Int64
	stopProgress := make(chan struct{})
	var progressWG sync.WaitGroup
	if p.o.Progress != nil {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					fmt.Fprintf(p.o.Progress, "prepare: %s %d/%d\n", name, done.Load(), total)
					return
				case <-t.C:
					fmt.Fprintf(p.o.Progress, "prepare: %s %d/%d\n", name, done.Load(), total)
				}
			}
		}()
	}

	idx := make(chan int)
	var wg sync.WaitGroup
	for range min(p.o.PrepareWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				body, items := build(i)
				if err := p.sendBatch(ctx, method, path, body); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("prepare %s: batch %d: %w", name, i, err) })
					cancel()
					return
				}
				done.Add(int64(items))
				if name == "history" {
					p.events.Add(int64(bytes.Count(body, []byte{'\n'})))
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	close(stopProgress)
	progressWG.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("prepare %s: %w", name, err)
	}
	return nil
}

func (p *preparer) sendBatch(ctx context.Context, method, path string, body []byte) error {
	status, resp, err := send(ctx, p.client, max(p.o.Timeout, minPrepareTimeout), method, p.base+path, "application/x-ndjson", body)
	// A server shedding load (503) asks to come back: loading is not a
	// measurement, so wait and retry, a bounded number of times.
	for try := 0; err == nil && status == 503 && try < 50; try++ {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
		status, resp, err = send(ctx, p.client, max(p.o.Timeout, minPrepareTimeout), method, p.base+path, "application/x-ndjson", body)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if !ok2xx(status) {
		msg := string(resp)
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return fmt.Errorf("%s %s: status %d: %s", method, path, status, strings.TrimSpace(msg))
	}
	return nil
}

// productBatchBody is catalog batch i as NDJSON.
func productBatchBody(o Options, i int) ([]byte, int) {
	rng := newRand(o.Seed, 1_000_000+uint64(i))
	from, to := i*productBatch, min((i+1)*productBatch, o.Products)
	b := make([]byte, 0, (to-from)*160)
	for n := from; n < to; n++ {
		b = appendProduct(b, rng, n)
		b = append(b, '\n')
	}
	return b, to - from
}

// historyBatchBody is the history of users [i*perBatch, (i+1)*perBatch) as
// NDJSON, each user's events in time order within the last historySpan.
func historyBatchBody(o Options, i, perBatch int, nowMillis int64) ([]byte, int) {
	rng := newRand(o.Seed, 2_000_000+uint64(i))
	from, to := i*perBatch, min((i+1)*perBatch, o.Users)
	b := make([]byte, 0, (to-from)*5*170)
	span := historySpan.Milliseconds()
	for u := from; u < to; u++ {
		fav := [2]int{rng.IntN(numCategories), rng.IntN(numCategories)}
		n := 2 + rng.IntN(maxUserEvents-1)
		ts := nowMillis - span + rng.Int64N(span/2)
		for k := range n {
			cat := fav[rng.IntN(2)]
			if rng.IntN(5) == 0 {
				cat = rng.IntN(numCategories)
			}
			e := event{user: u, product: productIn(rng, cat, o.Products), tsMillis: ts}
			e.session = ts / (30 * 60 * 1000)
			if k == 0 {
				e.typ = "view"
			} else {
				e.typ = pickEventType(rng)
			}
			if e.typ == "review" {
				e.rating = 1 + rng.IntN(5)
			}
			b = appendEvent(b, e)
			b = append(b, '\n')
			ts += 5_000 + rng.Int64N(115_000) // 5s to 2min apart, so at most 16 min in all
		}
	}
	return b, to - from
}

// productIn returns a random product of category cat, or any product if the
// catalog is too small to have one.
func productIn(rng interface{ IntN(int) int }, cat, products int) int {
	if cat >= products {
		return rng.IntN(products)
	}
	k := (products - cat + numCategories - 1) / numCategories // products with n%50 == cat
	return cat + numCategories*rng.IntN(k)
}
