package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type jobKind uint8

const (
	kindRecommend jobKind = iota
	kindEvents
	kindFreshness
)

// job is one scheduled request.
type job struct {
	kind     jobKind
	intended time.Time // due time; latency is measured from here
	measured bool      // due after the warmup
	phase    int       // index into Options.Phases, or -1
	user     int       // recommend
	body     []byte    // events: a pre-generated NDJSON batch, shared and read only
	probe    int       // freshness: probe number, makes the user id unique
	product  int       // freshness
}

// outcome is what became of one job.
type outcome struct {
	measured    bool
	phase       int
	latency     time.Duration // from the intended send time to the whole response read
	status      int           // 0: no HTTP response (transport error or timeout)
	ok          bool
	accepted    int64 // events accepted by the server
	fallback    string
	hasFallback bool
	probe       bool          // a freshness probe whose event was accepted
	visible     bool          // the probe's click became visible
	fresh       time.Duration // visibility delay, if visible
}

// Run drives o.Scenario against o.BaseURL at o.Rate requests per second for
// o.Warmup plus o.Duration, then waits for outstanding requests (each bounded
// by its timeout) and returns what was measured after the warmup.
//
// If ctx ends early, Run stops issuing requests, cancels those in flight and
// returns the partial Result (rates use the time actually measured) along
// with an error wrapping ctx.Err().
func Run(ctx context.Context, o Options) (Result, error) {
	o = o.withDefaults()
	if err := o.validate(true); err != nil {
		return Result{}, fmt.Errorf("loadgen options: %w", err)
	}
	r := &runner{
		o:    o,
		base: strings.TrimRight(o.BaseURL, "/"),
		rec:  newRecorder(len(o.Phases)),
		// Fresh user ids must be new to the server, also across runs.
		freshPrefix: "fresh-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-",
	}
	r.client = o.HTTPClient
	if r.client == nil {
		var t *http.Transport
		r.client, t = newClient(o.MaxInFlight)
		defer t.CloseIdleConnections()
	}
	r.prepareBodies()

	start := time.Now()
	measureFrom := start.Add(o.Warmup)
	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	if o.Progress != nil {
		go func() {
			defer close(progressDone)
			r.progress(start, measureFrom, stopProgress)
		}()
	} else {
		close(progressDone)
	}

	var phaseWG sync.WaitGroup
	stopPhases := r.enterPhases(start.Add(o.Warmup), &phaseWG)
	end := r.schedule(ctx, start)
	r.wg.Wait()
	stopPhases()
	phaseWG.Wait()
	close(stopProgress)
	<-progressDone

	measured := min(end.Sub(measureFrom), o.Duration)
	res := r.rec.result(o, max(measured, 0))
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("run %s: %w", o.Scenario, err)
	}
	return res, nil
}

type runner struct {
	o           Options
	base        string
	client      *http.Client
	rec         *recorder
	freshPrefix string

	bodies [][]byte // events and mixed: pre-generated batches, used round robin

	jobs     chan job
	inFlight atomic.Int64
	senders  int // started so far; only the scheduler touches it
	wg       sync.WaitGroup
}

// maxBodyBytes bounds the pre-generated event batches; beyond it they repeat.
const maxBodyBytes = 32 << 20

// prepareBodies generates the event batches before the clock starts, so the
// generator spends its CPU during the run on sending, not on formatting.
func (r *runner) prepareBodies() {
	size := r.o.BatchSize
	due := int(r.o.Rate*(r.o.Warmup+r.o.Duration).Seconds()) + 1
	switch r.o.Scenario {
	case ScenarioEvents:
	case ScenarioMixed:
		size = mixedBatchSize
		due = due/10 + 1
	default:
		return
	}
	rng := newRand(r.o.Seed, 2)
	pp := newProductPicker(rng, r.o.Products)
	now := time.Now().UnixMilli()
	total := 0
	for len(r.bodies) < due && total < maxBodyBytes {
		b := eventBatch(rng, pp, r.o.Users, size, now)
		r.bodies = append(r.bodies, b)
		total += len(b)
	}
}

// phaseAt returns the index of the phase that off (into the measured time)
// falls in, or -1 (no phases, or the warmup).
func (r *runner) phaseAt(off time.Duration) int {
	if off < 0 {
		return -1
	}
	i := -1
	for k, p := range r.o.Phases {
		if p.At > off {
			break
		}
		i = k
	}
	return i
}

// enterPhases calls each phase's Enter at its time after measureFrom, in
// order, one at a time on one goroutine, until stop is called; wg counts
// that goroutine.
func (r *runner) enterPhases(measureFrom time.Time, wg *sync.WaitGroup) (stop func()) {
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for _, p := range r.o.Phases {
			if p.Enter == nil {
				continue
			}
			timer.Reset(time.Until(measureFrom.Add(p.At)))
			select {
			case <-done:
				return
			case <-timer.C:
			}
			p.Enter()
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// schedule issues requests on the fixed schedule until it ends or ctx does,
// and returns when it stopped.
func (r *runner) schedule(ctx context.Context, start time.Time) time.Time {
	o := r.o
	r.jobs = make(chan job, o.MaxInFlight)
	defer close(r.jobs)
	rng := newRand(o.Seed, 1)
	interval := float64(time.Second) / o.Rate
	total := o.Warmup + o.Duration
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := 0; ; i++ {
		off := time.Duration(float64(i) * interval)
		if off >= total {
			return start.Add(total)
		}
		intended := start.Add(off)
		if d := time.Until(intended); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return time.Now()
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return time.Now()
		}
		j := job{intended: intended, measured: off >= o.Warmup, phase: r.phaseAt(off - o.Warmup)}
		switch o.Scenario {
		case ScenarioRecommend:
			j.kind, j.user = kindRecommend, rng.IntN(o.Users)
		case ScenarioEvents:
			j.kind, j.body = kindEvents, r.bodies[i%len(r.bodies)]
		case ScenarioFreshness:
			j.kind, j.probe, j.product = kindFreshness, i, rng.IntN(o.Products)
		case ScenarioMixed:
			if rng.IntN(10) == 0 {
				j.kind, j.body = kindEvents, r.bodies[i%len(r.bodies)]
			} else {
				j.kind, j.user = kindRecommend, rng.IntN(o.Users)
			}
		}
		r.dispatch(ctx, j)
	}
}

// dispatch hands j to an idle sender, starting one if needed, or counts it
// as late when MaxInFlight jobs are outstanding. It never blocks: jobs queued
// plus jobs running never exceed the senders started, nor the channel's
// capacity.
func (r *runner) dispatch(ctx context.Context, j job) {
	n := r.inFlight.Add(1)
	if n > int64(r.o.MaxInFlight) {
		r.inFlight.Add(-1)
		r.rec.late(j.measured, j.phase)
		return
	}
	if n > int64(r.senders) {
		r.senders++
		r.wg.Add(1)
		go r.sender(ctx)
	}
	r.rec.sent(j.measured, j.phase)
	r.jobs <- j
}

func (r *runner) sender(ctx context.Context) {
	defer r.wg.Done()
	for j := range r.jobs {
		var out outcome
		switch j.kind {
		case kindRecommend:
			out = r.recommend(ctx, j)
		case kindEvents:
			out = r.events(ctx, j)
		case kindFreshness:
			out = r.freshness(ctx, j)
		}
		out.measured, out.phase = j.measured, j.phase
		r.rec.done(out)
		r.inFlight.Add(-1)
	}
}

// maxResponse bounds how much of a response body is read.
const maxResponse = 1 << 20

// do sends one request with the per-request timeout and reads the response
// body. status is 0 when no response arrived.
func (r *runner) do(ctx context.Context, method, path, contentType string, body []byte) (status int, resp []byte, err error) {
	return send(ctx, r.client, r.o.Timeout, method, r.base+path, contentType, body)
}

// send sends one request bounded by timeout and reads at most maxResponse
// bytes of the response body. status is 0 when no response arrived.
func send(ctx context.Context, c *http.Client, timeout time.Duration, method, url, contentType string, body []byte) (status int, resp []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("new request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	resp, err = io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return 0, nil, fmt.Errorf("read response: %w", err)
	}
	_, _ = io.Copy(io.Discard, res.Body) // let the connection be reused
	return res.StatusCode, resp, nil
}

func ok2xx(status int) bool { return status >= 200 && status < 300 }

func (r *runner) recommend(ctx context.Context, j job) outcome {
	body := make([]byte, 0, 64)
	body = append(body, `{"user_id":"`...)
	body = appendID(body, 'u', j.user)
	body = append(body, `","num_recommendations":10}`...)
	status, resp, _ := r.do(ctx, http.MethodPost, "/v1/recommend", "application/json", body)
	out := outcome{latency: time.Since(j.intended), status: status, ok: ok2xx(status)}
	if out.ok {
		out.fallback, out.hasFallback = fallbackOf(resp)
	}
	return out
}

// fallbackOf returns the "fallback" field of a recommend response, if any:
// a string as is, any other JSON value as its text.
func fallbackOf(resp []byte) (string, bool) {
	if !bytes.Contains(resp, []byte(`"fallback"`)) {
		return "", false // skip decoding the common case
	}
	var v struct {
		Fallback json.RawMessage `json:"fallback"`
	}
	if json.Unmarshal(resp, &v) != nil || len(v.Fallback) == 0 || string(v.Fallback) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(v.Fallback, &s) == nil {
		return s, true
	}
	return string(v.Fallback), true
}

func (r *runner) events(ctx context.Context, j job) outcome {
	status, resp, _ := r.do(ctx, http.MethodPost, "/v1/events", "application/x-ndjson", j.body)
	out := outcome{latency: time.Since(j.intended), status: status, ok: ok2xx(status)}
	if out.ok {
		var v struct {
			Accepted int64 `json:"accepted"`
		}
		if json.Unmarshal(resp, &v) == nil {
			out.accepted = v.Accepted
		}
	}
	return out
}

// freshness posts one click for a new user and polls that user's features
// until the click shows. Its latency is the POST's; the visibility delay is
// measured from the moment the 202 arrived.
func (r *runner) freshness(ctx context.Context, j job) outcome {
	user := r.freshPrefix + strconv.Itoa(j.probe)
	now := time.Now()
	body := make([]byte, 0, 160)
	body = append(body, `{"user_id":`...)
	body = strconv.AppendQuote(body, user)
	body = append(body, `,"event_type":"click","product_id":"`...)
	body = appendID(body, 'p', j.product)
	body = append(body, `","session_id":`...)
	body = strconv.AppendQuote(body, "s-"+user)
	body = append(body, `,"timestamp":`...)
	body = strconv.AppendInt(body, now.UnixMilli(), 10)
	body = append(body, '}')
	status, _, _ := r.do(ctx, http.MethodPost, "/v1/events", "application/json", body)
	acked := time.Now()
	out := outcome{latency: acked.Sub(j.intended), status: status, ok: ok2xx(status)}
	if !out.ok {
		return out
	}
	out.probe = true

	ctx, cancel := context.WithDeadline(ctx, acked.Add(r.o.FreshnessTimeout))
	defer cancel()
	path := "/v1/users/" + user + "/features"
	var v struct {
		Features struct {
			Clicks float64 `json:"clicks"`
		} `json:"features"`
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k := 1; ; k++ {
		status, resp, _ := r.do(ctx, http.MethodGet, path, "", nil)
		seen := time.Now()
		if status == http.StatusOK && json.Unmarshal(resp, &v) == nil && v.Features.Clicks >= 1 {
			out.visible, out.fresh = true, seen.Sub(acked)
			return out
		}
		if d := time.Until(acked.Add(time.Duration(k) * pollInterval)); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return out
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return out
		}
	}
}

// progress writes a line a second until stop is closed.
func (r *runner) progress(start, measureFrom time.Time, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p := r.rec.snapshot()
			phase := ""
			if now.Before(measureFrom) {
				phase = " (warmup)"
			} else if i := r.phaseAt(now.Sub(measureFrom)); i >= 0 {
				phase = " [" + r.o.Phases[i].Name + "]"
			}
			p99 := "-"
			if len(p.window) > 0 {
				p99 = fmtDur(percentile(p.window, 0.99))
			}
			fmt.Fprintf(r.o.Progress, "%6.1fs  sent %d  ok %d  errors %d  late %d  in flight %d  p99(1s) %s%s\n",
				now.Sub(start).Seconds(), p.sent, p.ok, p.errors, p.late, r.inFlight.Load(), p99, phase)
		}
	}
}
