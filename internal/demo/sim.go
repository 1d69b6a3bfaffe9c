package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Event types, as in docs/API.md.
const (
	evView     = "view"
	evClick    = "click"
	evCart     = "add_to_cart"
	evUncart   = "remove_from_cart"
	evPurchase = "purchase"
	evReview   = "review"
)

// Pace and funnel knobs.
const (
	catalogBatch   = 1000
	maxEventBatch  = 64   // a worker flushes at this many buffered events
	recAtStart     = 0.6  // probability of a home-page recommendation at session start
	recPerStep     = 0.09 // probability that a session step asks for recommendations
	explore        = 0.15 // probability that a browse step leaves the preferred categories
	numRecommended = 10
)

// event is one event on the wire; user and product index the world (-1 if
// the product is not in the simulated catalog).
type event struct {
	UserID    any     `json:"user_id"`
	EventType string  `json:"event_type"`
	ProductID any     `json:"product_id"`
	SessionID string  `json:"session_id"`
	Category  string  `json:"category,omitempty"`
	Price     float64 `json:"price"`
	Quantity  int     `json:"quantity"`
	Rating    int     `json:"rating,omitempty"`
	Timestamp string  `json:"timestamp"`
	RequestID string  `json:"request_id,omitempty"`

	user, product int
}

type productJSON struct {
	ProductID  string            `json:"product_id"`
	Name       string            `json:"name"`
	Category   string            `json:"category"`
	Price      float64           `json:"price"`
	Inventory  int               `json:"inventory"`
	Margin     float64           `json:"margin"`
	Promoted   bool              `json:"promoted"`
	Available  bool              `json:"available"`
	Attributes map[string]string `json:"attributes"`
}

type recRequest struct {
	UserID    any            `json:"user_id"`
	SessionID string         `json:"session_id"`
	Context   map[string]any `json:"context,omitempty"`
	Num       int            `json:"num_recommendations"`
}

type recResponse struct {
	RequestID       string `json:"request_id"`
	Recommendations []struct {
		ProductID json.RawMessage `json:"product_id"`
		Source    string          `json:"source"`
	} `json:"recommendations"`
	Experiment *struct {
		ID      json.RawMessage `json:"id"`
		Variant json.RawMessage `json:"variant"`
	} `json:"experiment"`
}

// rawString is a JSON string's value, or the raw text of any other JSON value.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// Run builds the world from o.Seed, uploads the catalog, then simulates
// o.Concurrency users at a time against o.BaseURL until o.Duration has passed
// or ctx is done, and returns what it measured. Reaching the end of Duration
// or a cancelled ctx is not an error. HTTP error statuses are counted in the
// Report and the run carries on; Run returns an error (with the Report so
// far) only for invalid Options or a server unreachable for more than 5 s.
func Run(ctx context.Context, o Options) (Report, error) {
	ownClient := o.HTTPClient == nil
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return Report{}, fmt.Errorf("demo options: %w", err)
	}
	start := time.Now()
	var (
		runCtx context.Context
		cancel context.CancelFunc
	)
	if o.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, o.Duration)
	} else {
		runCtx, cancel = context.WithCancel(ctx)
	}
	defer cancel()

	if ownClient {
		defer o.HTTPClient.CloseIdleConnections()
	}
	w := newWorld(o)
	st := newStats(o, w, start)
	c := &client{base: o.BaseURL, hc: o.HTTPClient, limit: o.unreachableAfter, st: st}

	var progressDone sync.WaitGroup
	if o.Progress != nil {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			progress(runCtx, o, st)
		}()
	}

	err := simulate(runCtx, o, w, c, st)
	cancel()
	progressDone.Wait()
	r := st.report(o)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return r, err
	}
	return r, nil
}

func simulate(ctx context.Context, o Options, w *world, c *client, st *stats) error {
	if err := upload(ctx, w, c, st); err != nil {
		return fmt.Errorf("upload catalog: %w", err)
	}
	st.startSim()

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	n := min(o.Concurrency, len(w.Users))
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for i := range n {
		wk := newWorker(i, n, o.Seed, w, c, st)
		wg.Go(func() {
			if err := wk.run(ctx); err != nil {
				errOnce.Do(func() { firstErr = err; stop() })
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("simulate: %w", firstErr)
	}
	return nil
}

// upload sends the catalog with PUT /v1/products in NDJSON batches.
func upload(ctx context.Context, w *world, c *client, st *stats) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for start := 0; start < len(w.Products); start += catalogBatch {
		buf.Reset()
		batch := w.Products[start:min(start+catalogBatch, len(w.Products))]
		for i := range batch {
			p := &batch[i]
			cat := w.Categories[p.Category]
			band := "mid"
			switch r := p.Price / cat.Median; {
			case r < 0.7:
				band = "budget"
			case r > 1.4:
				band = "premium"
			}
			if err := enc.Encode(productJSON{
				ProductID: p.ID, Name: p.Name, Category: cat.Name, Price: p.Price,
				Inventory: p.Inventory, Margin: p.Margin, Promoted: p.Promoted, Available: true,
				Attributes: map[string]string{"brand": p.Brand, "price_band": band},
			}); err != nil {
				return fmt.Errorf("encode product %s: %w", p.ID, err)
			}
		}
		code, _, err := c.send(ctx, "PUT", "/v1/products", "application/x-ndjson", buf.Bytes())
		if err != nil {
			return fmt.Errorf("batch at %d: %w", start, err)
		}
		if code/100 == 2 {
			st.addUploaded(len(batch))
		}
	}
	return nil
}

// progress prints a line every o.progressEvery until ctx is done.
func progress(ctx context.Context, o Options, st *stats) {
	t := time.NewTicker(o.progressEvery)
	defer t.Stop()
	var lastEvents int64
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case tick := <-t.C:
			elapsed, events, p99, ctr := st.progress()
			rate := float64(events-lastEvents) / tick.Sub(last).Seconds()
			lastEvents, last = events, tick
			fmt.Fprintf(o.Progress, "demo %5s  events %s (%s/s)  recommend p99 %.1f ms  CTR %.2f%%\n",
				elapsed.Round(time.Second), num(events), num(int64(rate)), p99, 100*ctr)
		}
	}
}

// worker simulates the sessions of its share of the users, one at a time,
// drawing every decision from its own RNG.
type worker struct {
	id    int
	seed  int64
	r     *rand.Rand
	w     *world
	c     *client
	st    *stats
	users []int     // indexes of the users this worker simulates
	cum   []float64 // cumulative Activity over users

	buf      []event
	sessions int
	body     bytes.Buffer
}

func newWorker(id, n int, seed int64, w *world, c *client, st *stats) *worker {
	wk := &worker{id: id, seed: seed, r: newRand(seed, streamWorker+uint64(id)), w: w, c: c, st: st}
	var act []float64
	for i := id; i < len(w.Users); i += n {
		wk.users = append(wk.users, i)
		act = append(act, w.Users[i].Activity)
	}
	wk.cum = cumulative(act)
	return wk
}

func (wk *worker) run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := wk.session(ctx); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
	}
	return nil
}

// sessionState is what a session carries from step to step.
type sessionState struct {
	ui       int
	u        *user
	id       string
	lastView int       // product index, -1 before the first view
	tasteCum []float64 // cumulative u.Weights
}

func (wk *worker) session(ctx context.Context) error {
	ui := wk.users[pick(wk.r, wk.cum)]
	s := &sessionState{
		ui:       ui,
		u:        &wk.w.Users[ui],
		id:       fmt.Sprintf("s%d-%d-%d", wk.seed, wk.id, wk.sessions),
		lastView: -1,
		tasteCum: cumulative(wk.w.Users[ui].Weights),
	}
	wk.sessions++
	wk.st.addSession()
	steps := 5 + min(int(wk.r.ExpFloat64()*12), 80) // about 17 steps, 2 recommendation lists

	if wk.r.Float64() < recAtStart {
		if err := wk.recommend(ctx, s); err != nil {
			return err
		}
	}
	for range steps {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if wk.r.Float64() < recPerStep {
			if err := wk.recommend(ctx, s); err != nil {
				return err
			}
		} else {
			wk.browse(s)
		}
		if len(wk.buf) >= maxEventBatch {
			if err := wk.flush(ctx); err != nil {
				return err
			}
		}
	}
	return wk.flush(ctx)
}

// browse is one product page: the user picks a product, mostly from a
// preferred category by appeal, and goes down the funnel with probabilities
// that grow with how well it fits their taste.
func (wk *worker) browse(s *sessionState) {
	r, w := wk.r, wk.w
	var c int
	if r.Float64() < explore {
		c = r.IntN(len(w.Categories))
	} else {
		c = s.u.Cats[pick(r, s.tasteCum)]
	}
	cat := &w.Categories[c]
	pi := cat.Products[pick(r, cat.Cum)]
	p := &w.Products[pi]
	s.lastView = pi
	m := w.match(s.u, c, p.Price)
	fit := priceFit(p.Price, cat.Median, s.u.PriceLevel)

	wk.add(s, evView, pi, "", 1, 0)
	if r.Float64() >= 0.12+0.3*m { // about 30% of views overall
		return
	}
	wk.funnel(s, pi, "", m, fit)
}

// funnel continues after a click on product pi: add_to_cart about 10% of
// clicks, purchase about 40% of carts, more when the item fits.
func (wk *worker) funnel(s *sessionState, pi int, requestID string, m, fit float64) {
	r := wk.r
	wk.add(s, evClick, pi, requestID, 1, 0)
	if pi >= 0 && wk.w.Products[pi].Inventory == 0 {
		return // out of stock: nothing to put in the cart
	}
	if r.Float64() >= 0.04+0.12*m {
		return
	}
	qty := 1
	switch x := r.Float64(); {
	case x < 0.05:
		qty = 3
	case x < 0.15:
		qty = 2
	}
	if pi >= 0 {
		qty = min(qty, wk.w.Products[pi].Inventory)
	}
	wk.add(s, evCart, pi, requestID, qty, 0)
	if r.Float64() >= 0.25+0.3*fit {
		if r.Float64() < 0.2 {
			wk.add(s, evUncart, pi, requestID, qty, 0)
		}
		return
	}
	wk.add(s, evPurchase, pi, requestID, qty, 0)
	if r.Float64() < 0.15 {
		rating := int(math.Round(clamp(2.5+2.5*m+r.NormFloat64()*0.8, 1, 5)))
		wk.add(s, evReview, pi, requestID, 1, rating)
	}
}

// add buffers one event for catalog product pi.
func (wk *worker) add(s *sessionState, typ string, pi int, requestID string, qty, rating int) {
	p := &wk.w.Products[pi]
	wk.buf = append(wk.buf, event{
		UserID:    s.u.jsonID(),
		EventType: typ,
		ProductID: p.ID,
		SessionID: s.id,
		Category:  wk.w.Categories[p.Category].Name,
		Price:     p.Price,
		Quantity:  qty,
		Rating:    rating,
		Timestamp: now(),
		RequestID: requestID,
		user:      s.ui,
		product:   pi,
	})
}

// flush sends the buffered events as one NDJSON batch, retrying network
// failures. A batch refused with an error status is counted and dropped.
func (wk *worker) flush(ctx context.Context) error {
	if len(wk.buf) == 0 {
		return nil
	}
	wk.body.Reset()
	enc := json.NewEncoder(&wk.body)
	for i := range wk.buf {
		if err := enc.Encode(&wk.buf[i]); err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
	}
	code, _, err := wk.c.send(ctx, "POST", "/v1/events", "application/x-ndjson", wk.body.Bytes())
	if err != nil {
		return fmt.Errorf("send events: %w", err)
	}
	if code/100 == 2 {
		wk.st.addEvents(wk.buf)
	}
	wk.buf = wk.buf[:0]
	return nil
}

// recommend flushes the session's events so the server has seen them, asks
// for recommendations and lets the user look at each served item: a click
// (carrying the request_id) is more likely the better the item fits, and may
// go on down the funnel.
func (wk *worker) recommend(ctx context.Context, s *sessionState) error {
	if err := wk.flush(ctx); err != nil {
		return err
	}
	req := recRequest{UserID: s.u.jsonID(), SessionID: s.id, Num: numRecommended, Context: map[string]any{"page": "home"}}
	if s.lastView >= 0 {
		req.Context = map[string]any{"page": "product", "product_id": wk.w.Products[s.lastView].ID}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode recommend request: %w", err)
	}
	start := time.Now()
	code, b, err := wk.c.do(ctx, "POST", "/v1/recommend", "application/json", body)
	took := time.Since(start)
	if err != nil {
		if fatal(err) {
			return fmt.Errorf("recommend: %w", err)
		}
		return sleepCtx(ctx, retryBackoff) // counted; the session goes on without a list
	}
	if code/100 != 2 {
		return nil
	}
	var resp recResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		wk.st.countError("bad_response", "POST /v1/recommend: "+err.Error())
		return nil
	}
	variant := ""
	if e := resp.Experiment; e != nil {
		id, v := rawString(e.ID), rawString(e.Variant)
		switch {
		case id != "" && v != "":
			variant = id + "/" + v
		case v != "":
			variant = v
		}
	}
	items := make([]servedItem, len(resp.Recommendations))
	for pos, rec := range resp.Recommendations {
		items[pos].source = rec.Source
		pi, ok := wk.w.byProduct[rawString(rec.ProductID)]
		if !ok {
			continue // not in the simulated catalog: the user cannot judge it and never clicks it
		}
		p := &wk.w.Products[pi]
		m := wk.w.match(s.u, p.Category, p.Price)
		if wk.r.Float64() >= recClickProb(m, pos) {
			continue
		}
		items[pos].clicked = true
		fit := priceFit(p.Price, wk.w.Categories[p.Category].Median, s.u.PriceLevel)
		wk.funnel(s, pi, resp.RequestID, m, fit)
	}
	wk.st.addList(took, variant, items)
	return nil
}
