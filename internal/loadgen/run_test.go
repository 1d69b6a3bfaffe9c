package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// slots is how many requests the schedule holds for rate over d.
func slots(rate float64, d time.Duration) int64 {
	interval := float64(time.Second) / rate
	var n int64
	for time.Duration(float64(n)*interval) < d {
		n++
	}
	return n
}

// sleepCtx sleeps for d or until the request is abandoned.
func sleepCtx(r *http.Request, d time.Duration) {
	_, _ = io.Copy(io.Discard, r.Body) // else the server does not notice the client leave
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}

var userIDRe = regexp.MustCompile(`^u[0-9]{6,}$`)

// recommendHandler checks each request body and answers 200.
func recommendHandler(t *testing.T, bad *atomic.Int64) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		var req struct {
			UserID string `json:"user_id"`
			N      int    `json:"num_recommendations"`
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/recommend" ||
			json.NewDecoder(r.Body).Decode(&req) != nil || !userIDRe.MatchString(req.UserID) || req.N != 10 {
			bad.Add(1)
			http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
			return false
		}
		return true
	}
}

// TestRunOpenLoopKeepsSchedule: a tenth of the requests take 100ms, yet every
// request is issued on schedule: the count matches the schedule exactly, the
// server sees requests overlap, and the slow ones show in p99.
func TestRunOpenLoopKeepsSchedule(t *testing.T) {
	var (
		n, inFlight, maxInFlight, bad atomic.Int64
	)
	check := recommendHandler(t, &bad)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); cur > m && !maxInFlight.CompareAndSwap(m, cur); m = maxInFlight.Load() {
		}
		if !check(w, r) {
			return
		}
		if i%10 == 0 {
			sleepCtx(r, 100*time.Millisecond)
		}
		fmt.Fprint(w, `{"user_id":"u1","recommendations":[]}`)
	}))
	var progress bytes.Buffer
	const rate, dur = 200.0, 1200 * time.Millisecond
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioRecommend, Rate: rate, Duration: dur, Warmup: -1,
		Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := slots(rate, dur)
	if res.Sent+res.Late != want || res.Late != 0 {
		t.Errorf("sent %d + late %d, want %d + 0", res.Sent, res.Late, want)
	}
	if res.OK != want || n.Load() != want || bad.Load() != 0 {
		t.Errorf("ok %d, server saw %d (%d bad), want %d", res.OK, n.Load(), bad.Load(), want)
	}
	if res.Samples != res.Sent {
		t.Errorf("samples %d != sent %d", res.Samples, res.Sent)
	}
	if maxInFlight.Load() < 2 {
		t.Errorf("server saw at most %d requests at once: the generator waited for slow responses", maxInFlight.Load())
	}
	if res.P99 < 100*time.Millisecond {
		t.Errorf("p99 %v < injected 100ms delay", res.P99)
	}
	if res.Duration != dur || res.Throughput != float64(res.OK)/dur.Seconds() {
		t.Errorf("duration %v throughput %v", res.Duration, res.Throughput)
	}
	if !strings.Contains(progress.String(), "sent ") || !strings.Contains(progress.String(), "p99(1s)") {
		t.Errorf("no progress line in %q", progress.String())
	}
}

// TestRunLatencyIncludesQueueing: a server that handles one request at a time
// in 20ms serves 50 req/s; offered 100 req/s, its backlog grows and the
// latency measured from intended send times must show it.
func TestRunLatencyIncludesQueueing(t *testing.T) {
	var mu sync.Mutex
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		time.Sleep(20 * time.Millisecond)
		mu.Unlock()
		fmt.Fprint(w, `{"recommendations":[]}`)
	}))
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioRecommend, Rate: 100, Duration: 500 * time.Millisecond, Warmup: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != slots(100, 500*time.Millisecond) {
		t.Errorf("ok %d of %d sent", res.OK, res.Sent)
	}
	if res.P99 < 100*time.Millisecond {
		t.Errorf("p99 %v < 100ms: queueing behind the slow server is hidden", res.P99)
	}
}

func TestRunWarmupExcluded(t *testing.T) {
	var n atomic.Int64
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		fmt.Fprint(w, `{}`)
	}))
	const rate, warm, dur = 100.0, 200 * time.Millisecond, 300 * time.Millisecond
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioRecommend, Rate: rate, Duration: dur, Warmup: warm,
	})
	if err != nil {
		t.Fatal(err)
	}
	all := slots(rate, warm+dur)
	if n.Load() != all {
		t.Errorf("server saw %d requests, want %d", n.Load(), all)
	}
	if res.Sent != all-slots(rate, warm) {
		t.Errorf("sent %d, want %d measured of %d", res.Sent, all-slots(rate, warm), all)
	}
}

func TestRunCountsErrorsByStatus(t *testing.T) {
	var n, bad atomic.Int64
	check := recommendHandler(t, &bad)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !check(w, r) {
			return
		}
		switch n.Add(1) % 4 {
		case 0:
			http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
		case 1:
			http.Error(w, `{"error":"slow down"}`, http.StatusTooManyRequests)
		case 2:
			fmt.Fprint(w, `{"recommendations":[{"product_id":"p1"}],"fallback":"popular"}`)
		default:
			fmt.Fprint(w, `{"recommendations":[{"product_id":"p1"}]}`)
		}
	}))
	const rate, dur = 200.0, 400 * time.Millisecond // 80 requests, 20 of each kind
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioRecommend, Rate: rate, Duration: dur, Warmup: -1, Users: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	q := slots(rate, dur) / 4
	if res.OK != 2*q || res.Errors != 2*q || bad.Load() != 0 {
		t.Errorf("ok %d errors %d bad %d, want %d %d 0", res.OK, res.Errors, bad.Load(), 2*q, 2*q)
	}
	if want := map[int]int64{500: q, 429: q}; !equalMaps(res.ErrorsByStatus, want) {
		t.Errorf("ErrorsByStatus %v, want %v", res.ErrorsByStatus, want)
	}
	if want := map[string]int64{"popular": q}; !equalMaps(res.Fallbacks, want) {
		t.Errorf("Fallbacks %v, want %v", res.Fallbacks, want)
	}
}

func TestRunTimeoutIsStatusZero(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sleepCtx(r, time.Second)
	}))
	timeout := 50 * time.Millisecond
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioRecommend, Rate: 50, Duration: 200 * time.Millisecond, Warmup: -1, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent == 0 || res.Errors != res.Sent || res.ErrorsByStatus[0] != res.Sent {
		t.Errorf("sent %d errors %d by status %v, want every request a status-0 error", res.Sent, res.Errors, res.ErrorsByStatus)
	}
	if res.P50 < timeout {
		t.Errorf("p50 %v < timeout %v", res.P50, timeout)
	}
}

// TestRunLateWhenPoolExhausted: with two senders and 200ms responses, requests
// due while both are busy are counted as late, not queued.
func TestRunLateWhenPoolExhausted(t *testing.T) {
	var n atomic.Int64
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		sleepCtx(r, 200*time.Millisecond)
		fmt.Fprint(w, `{}`)
	}))
	const rate, dur = 50.0, 400 * time.Millisecond
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioRecommend, Rate: rate, Duration: dur, Warmup: -1, MaxInFlight: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent+res.Late != slots(rate, dur) {
		t.Errorf("sent %d + late %d != %d due", res.Sent, res.Late, slots(rate, dur))
	}
	// At most 2 outstanding, each 200ms: at most 2 per 200ms are started.
	if res.Late == 0 || res.Sent > 6 || n.Load() != res.Sent {
		t.Errorf("sent %d late %d, server saw %d: want late > 0 and few sent", res.Sent, res.Late, n.Load())
	}
	if res.MaxInFlight != 2 {
		t.Errorf("MaxInFlight %d", res.MaxInFlight)
	}
}

var eventTypes = map[string]bool{"view": true, "click": true, "add_to_cart": true, "remove_from_cart": true, "purchase": true, "review": true}

// checkEvent returns what is wrong with one event line per docs/API.md.
func checkEvent(line []byte) error {
	var e map[string]any
	if err := json.Unmarshal(line, &e); err != nil {
		return err
	}
	for _, f := range []string{"user_id", "event_type", "product_id"} {
		if s, ok := e[f].(string); !ok || s == "" {
			return fmt.Errorf("%s missing", f)
		}
	}
	typ := e["event_type"].(string)
	if !eventTypes[typ] {
		return fmt.Errorf("event_type %q", typ)
	}
	if r, ok := e["rating"]; ok != (typ == "review") {
		return fmt.Errorf("rating %v with %s", r, typ)
	} else if ok {
		if f, _ := r.(float64); f < 1 || f > 5 || f != float64(int(f)) {
			return fmt.Errorf("rating %v", r)
		}
	}
	if p, ok := e["price"].(float64); !ok || p < 0 {
		return fmt.Errorf("price %v", e["price"])
	}
	if ts, ok := e["timestamp"].(float64); !ok || ts < 1e12 || ts != float64(int64(ts)) {
		return fmt.Errorf("timestamp %v not epoch ms", e["timestamp"])
	}
	if _, ok := e["session_id"].(string); !ok {
		return fmt.Errorf("session_id %v", e["session_id"])
	}
	return nil
}

// readNDJSON checks an NDJSON body and returns its lines.
func readNDJSON(r *http.Request) ([][]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		return nil, fmt.Errorf("content type %q", ct)
	}
	var lines [][]byte
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
	}
	return lines, sc.Err()
}

func TestRunEvents(t *testing.T) {
	var (
		mu      sync.Mutex
		batches []int
		bad     []string
		types   = map[string]int{}
	)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lines, err := readNDJSON(r)
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/events" || err != nil {
			bad = append(bad, fmt.Sprint(r.Method, r.URL.Path, err))
			http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
			return
		}
		for i, l := range lines {
			if err := checkEvent(l); err != nil {
				bad = append(bad, fmt.Sprintf("line %d: %v: %s", i, err, l))
			}
			var e struct {
				EventType string `json:"event_type"`
			}
			_ = json.Unmarshal(l, &e)
			types[e.EventType]++
		}
		batches = append(batches, len(lines))
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"accepted":%d}`, len(lines))
	}))
	const rate, dur, size = 50.0, 400 * time.Millisecond, 300
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioEvents, Rate: rate, Duration: dur, Warmup: -1, BatchSize: size,
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%d invalid requests or events, first: %s", len(bad), bad[0])
	}
	if int64(len(batches)) != slots(rate, dur) || res.OK != int64(len(batches)) {
		t.Errorf("server got %d batches, ok %d, want %d", len(batches), res.OK, slots(rate, dur))
	}
	for _, b := range batches {
		if b != size {
			t.Fatalf("batch of %d events, want %d", b, size)
		}
	}
	if res.Accepted != res.OK*size || res.EventsPerSec != float64(res.Accepted)/dur.Seconds() {
		t.Errorf("accepted %d events/s %v, want %d and %v", res.Accepted, res.EventsPerSec, res.OK*size, float64(res.OK*size)/dur.Seconds())
	}
	if types["view"] < types["click"] || types["click"] == 0 || types["purchase"] == 0 {
		t.Errorf("unrealistic event mix %v", types)
	}
}

func TestRunMixed(t *testing.T) {
	var recs, batches, badBatches atomic.Int64
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/recommend":
			recs.Add(1)
			fmt.Fprint(w, `{}`)
		case "/v1/events":
			batches.Add(1)
			lines, err := readNDJSON(r)
			if err != nil || len(lines) != mixedBatchSize {
				badBatches.Add(1)
			}
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"accepted":%d}`, len(lines))
		default:
			http.NotFound(w, r)
		}
	}))
	const rate, dur = 400.0, 500 * time.Millisecond // 200 requests, about 20 batches
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioMixed, Rate: rate, Duration: dur, Warmup: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != slots(rate, dur) || recs.Load()+batches.Load() != res.OK {
		t.Errorf("ok %d, server saw %d recommend + %d batches", res.OK, recs.Load(), batches.Load())
	}
	if b := batches.Load(); b < 5 || b > 45 || badBatches.Load() != 0 {
		t.Errorf("%d event batches (%d bad) of %d requests, want about 10%%", b, badBatches.Load(), res.OK)
	}
	if res.Accepted != batches.Load()*mixedBatchSize {
		t.Errorf("accepted %d", res.Accepted)
	}
}

// TestRunFreshness: the fake server shows a click 50ms after accepting it.
func TestRunFreshness(t *testing.T) {
	const delay = 50 * time.Millisecond
	var (
		mu      sync.Mutex
		visible = map[string]time.Time{}
		polls   atomic.Int64
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			UserID    string `json:"user_id"`
			EventType string `json:"event_type"`
		}
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || e.EventType != "click" || e.UserID == "" {
			http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		if _, dup := visible[e.UserID]; dup {
			mu.Unlock()
			http.Error(w, `{"error":"user not fresh"}`, http.StatusConflict)
			return
		}
		visible[e.UserID] = time.Now().Add(delay)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"accepted":1}`)
	})
	mux.HandleFunc("GET /v1/users/{id}/features", func(w http.ResponseWriter, r *http.Request) {
		polls.Add(1)
		mu.Lock()
		at, ok := visible[r.PathValue("id")]
		mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"unknown user"}`, http.StatusNotFound)
			return
		}
		clicks := 0
		if !time.Now().Before(at) {
			clicks = 1
		}
		fmt.Fprintf(w, `{"user_id":%q,"features":{"total_events":1,"clicks":%d}}`, r.PathValue("id"), clicks)
	})
	srv := newServer(t, mux)
	const rate, dur = 20.0, 500 * time.Millisecond
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioFreshness, Rate: rate, Duration: dur, Warmup: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Freshness
	if f == nil {
		t.Fatal("no freshness result")
	}
	want := slots(rate, dur)
	if res.OK != want || f.Probes != want || f.Visible != want || f.NotVisible != 0 {
		t.Errorf("ok %d probes %d visible %d not visible %d, want %d %d %d 0", res.OK, f.Probes, f.Visible, f.NotVisible, want, want, want)
	}
	if f.P50 < delay || f.P99 < f.P50 || f.Max < f.P99 {
		t.Errorf("freshness p50 %v p99 %v max %v, want p50 >= %v", f.P50, f.P99, f.Max, delay)
	}
	if polls.Load() < 2*want {
		t.Errorf("only %d polls for %d probes", polls.Load(), want)
	}
}

func TestRunFreshnessGivesUp(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"accepted":1}`)
			return
		}
		http.Error(w, `{"error":"unknown user"}`, http.StatusNotFound)
	}))
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, Scenario: ScenarioFreshness, Rate: 20, Duration: 100 * time.Millisecond, Warmup: -1,
		FreshnessTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Freshness; f == nil || f.Probes != 2 || f.NotVisible != 2 || f.Visible != 0 {
		t.Errorf("freshness %+v, want 2 probes not visible", f)
	}
}

func TestRunCancelled(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Options{BaseURL: srv.URL, Scenario: ScenarioRecommend, Rate: 100, Duration: time.Minute, Warmup: -1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if res.Duration <= 0 || res.Duration > 10*time.Second || res.Sent == 0 {
		t.Errorf("partial result duration %v sent %d", res.Duration, res.Sent)
	}
}

func TestRunValidates(t *testing.T) {
	_, err := Run(context.Background(), Options{Scenario: "browse", Rate: -1, BatchSize: 20_000})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"BaseURL", "Scenario", "Rate", "BatchSize"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestResultPrintAndJSON(t *testing.T) {
	r := Result{
		Scenario: ScenarioFreshness, Rate: 200, Duration: 10 * time.Second, Warmup: 2 * time.Second, MaxInFlight: 416,
		Sent: 2000, OK: 1990, Errors: 10, ErrorsByStatus: map[int]int64{0: 4, 503: 6}, Throughput: 199, Samples: 2000,
		P50: 2 * time.Millisecond, P95: 5 * time.Millisecond, P99: 12 * time.Millisecond, P999: 40 * time.Millisecond, Max: 80 * time.Millisecond,
		Fallbacks: map[string]int64{"popular": 3},
		Freshness: &FreshnessResult{Probes: 1990, Visible: 1990, P50: 7 * time.Millisecond, P99: 20 * time.Millisecond, Max: 30 * time.Millisecond},
	}
	var b strings.Builder
	r.Print(&b)
	for _, want := range []string{
		"open loop at 200 req/s for 10s after 2s warmup, latency from intended send time",
		"p99 12ms", "no response: 4", "503: 6", "popular: 3", "freshness:", "p50 7ms",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Print output lacks %q:\n%s", want, b.String())
		}
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Scenario       string                `json:"scenario"`
		ErrorsByStatus map[string]int64      `json:"errors_by_status"`
		LatencyMS      struct{ P99 float64 } `json:"latency_ms"`
		Freshness      struct {
			P50MS float64 `json:"p50_ms"`
		} `json:"freshness"`
	}
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	if got.Scenario != "freshness" || got.ErrorsByStatus["503"] != 6 || got.LatencyMS.P99 != 12 || got.Freshness.P50MS != 7 {
		t.Errorf("JSON round trip: %+v from %s", got, js)
	}
}
