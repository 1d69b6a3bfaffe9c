package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// small is a world that uploads quickly; tests override what they need.
func small(url string) Options {
	return Options{BaseURL: url, Seed: 1, Products: 1500, Categories: 20, Users: 300, Concurrency: 4}
}

// runUntil runs o until the fake has accepted at least n events (or 30 s).
func runUntil(t *testing.T, f *fakeServer, o Options, n int) Report {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.onEvents = func(total int) {
		if total >= n {
			cancel()
		}
	}
	if o.Duration == 0 {
		o.Duration = 30 * time.Second
	}
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		o    Options
		want string // substring of the error; "" for none
	}{
		{"defaults", Options{BaseURL: "http://127.0.0.1:8080"}, ""},
		{"no url", Options{}, "BaseURL is required"},
		{"not http", Options{BaseURL: "ftp://x"}, "not an http(s) URL"},
		{"negative", Options{BaseURL: "http://x", Users: -1, Duration: -time.Second, Concurrency: -2}, "Users -1 < 0"},
		{"categories", Options{BaseURL: "http://x", Products: 5, Categories: 6}, "Categories 6 > Products 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.withDefaults().validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("validate = %v, want %q", err, tc.want)
			}
		})
	}
	if d := (Options{BaseURL: "http://x"}).withDefaults(); d.Products != 10_000 || d.Categories != 50 || d.Users != 5_000 || d.Concurrency != 16 {
		t.Errorf("defaults = %+v", d)
	}
}

func TestWorldDeterministic(t *testing.T) {
	t.Parallel()
	o := Options{Seed: 42, Products: 3000, Categories: 60, Users: 500}
	a, b := newWorld(o), newWorld(o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed built different worlds")
	}
	o.Seed = 43
	c := newWorld(o)
	if reflect.DeepEqual(a.Products, c.Products) || reflect.DeepEqual(a.Users, c.Users) {
		t.Fatal("different seeds built the same catalog or users")
	}

	// The world is plausible.
	if a.Categories[0].Name != "kitchen" || a.Categories[55].Name != "cat-55" {
		t.Errorf("category names %q, %q", a.Categories[0].Name, a.Categories[55].Name)
	}
	var out, promoted int
	var appeal, top float64
	for i, p := range a.Products {
		if p.Price < 0.99 || p.Price > 5000 || p.Inventory < 0 || p.Margin < 0.05 || p.Margin > 0.5 {
			t.Fatalf("product %d implausible: %+v", i, p)
		}
		if p.Inventory == 0 {
			out++
		}
		if p.Promoted {
			promoted++
		}
		appeal += p.Appeal
		if p.Appeal >= 1/math.Pow(30, 0.8) { // the 30 most appealing of 3000
			top += p.Appeal
		}
	}
	if out == 0 || out > len(a.Products)/10 || promoted == 0 || promoted > len(a.Products)/10 {
		t.Errorf("%d out of stock, %d promoted of %d", out, promoted, len(a.Products))
	}
	if share := top / appeal; share < 0.1 {
		t.Errorf("top 1%% of products hold %.1f%% of appeal, want a long tail", 100*share)
	}
	for _, c := range a.Categories {
		if len(c.Products) == 0 || c.Median < 8 || c.Median > 250 {
			t.Errorf("category %+v", c)
		}
	}
	for _, u := range a.Users {
		if n := len(u.Cats); n < 1 || n > 3 || len(u.Weights) != n || u.Weights[0] != 1 || u.PriceLevel < 0.4 || u.PriceLevel > 2.5 {
			t.Fatalf("user %+v", u)
		}
	}
}

func TestClickModel(t *testing.T) {
	t.Parallel()
	w := newWorld(Options{Seed: 3, Products: 500, Categories: 10, Users: 10})
	u := &w.Users[0]
	fav := u.Cats[0]
	other := 0
	for u.catWeight(other) > 0 {
		other++
	}
	atPref := w.Categories[fav].Median * u.PriceLevel
	for _, tc := range []struct {
		name string
		m    float64
		lo   float64
		hi   float64
	}{
		{"perfect", w.match(u, fav, atPref), 0.24, 0.26},
		{"pricey", w.match(u, fav, 4*atPref), 0.10, 0.13},
		{"other category", w.match(u, other, atPref), 0.02, 0.02},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p := recClickProb(tc.m, 0); p < tc.lo || p > tc.hi {
				t.Errorf("click probability at the top = %.3f, want [%.2f, %.2f]", p, tc.lo, tc.hi)
			}
			for pos := 1; pos < 10; pos++ {
				if recClickProb(tc.m, pos) >= recClickProb(tc.m, pos-1) {
					t.Errorf("click probability does not fall at position %d", pos)
				}
			}
		})
	}
}

func TestCatalogUpload(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	o := small(f.URL)
	o.Products = 2500
	r := runUntil(t, f, o, 1)
	_, batches, problems, _ := f.snapshot()
	if len(problems) > 0 {
		t.Fatalf("server refused: %v", problems[:min(5, len(problems))])
	}
	if !reflect.DeepEqual(batches, []int{1000, 1000, 500}) {
		t.Errorf("batches = %v, want [1000 1000 500]", batches)
	}
	if len(f.products) != 2500 || r.ProductsUploaded != 2500 {
		t.Errorf("server has %d products, report says %d uploaded", len(f.products), r.ProductsUploaded)
	}
	w := newWorld(o)
	for _, p := range w.Products {
		got := f.products[p.ID]
		if got == nil || got["category"] != w.Categories[p.Category].Name || got["available"] != true {
			t.Fatalf("product %s on the server: %v", p.ID, got)
		}
	}
}

func TestEventsValid(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	r := runUntil(t, f, small(f.URL), 5000)
	events, _, problems, reqIDs := f.snapshot()
	if len(problems) > 0 {
		t.Fatalf("server refused %d things, first: %v", len(problems), problems[:min(5, len(problems))])
	}
	if len(r.Errors) > 0 {
		t.Errorf("errors: %v %v", r.Errors, r.ErrorSamples)
	}
	// The batches in flight when the run was cancelled reached the server
	// but were not acknowledged, so they are not in the report.
	if unacked := int64(len(events)) - r.Events; unacked < 0 || unacked > 4*maxEventBatch {
		t.Errorf("server has %d events, report says %d", len(events), r.Events)
	}
	types := map[string]int{}
	intUsers, attributed := 0, 0
	for i, e := range events {
		typ := e["event_type"].(string)
		types[typ]++
		for _, k := range []string{"session_id", "category", "price", "quantity", "timestamp"} {
			if _, ok := e[k]; !ok {
				t.Fatalf("event %d has no %s: %v", i, k, e)
			}
		}
		ts, _ := time.Parse(time.RFC3339Nano, e["timestamp"].(string))
		if time.Since(ts) > time.Minute || time.Until(ts) > time.Second {
			t.Fatalf("event %d timestamp %v is not now", i, ts)
		}
		if isInt(e["user_id"]) {
			intUsers++
		}
		if id, ok := e["request_id"].(string); ok {
			attributed++
			if !reqIDs[id] {
				t.Fatalf("event %d carries request_id %q the server never issued", i, id)
			}
		}
	}
	for _, typ := range []string{evView, evClick, evCart, evPurchase} {
		if types[typ] == 0 {
			t.Errorf("no %s events: %v", typ, types)
		}
	}
	if intUsers == 0 || attributed == 0 {
		t.Errorf("%d events with integer user ids, %d attributed", intUsers, attributed)
	}
	// The funnel drops off: roughly 30% of views clicked, few purchases.
	if c := float64(types[evClick]) / float64(types[evView]); c < 0.15 || c > 0.6 {
		t.Errorf("clicks/views = %.2f", c)
	}
	if types[evPurchase] >= types[evCart] || types[evCart] >= types[evClick] {
		t.Errorf("funnel does not narrow: %v", types)
	}
	// About one recommend per ten events.
	if per := float64(r.Events) / float64(r.RecommendCalls); per < 6 || per > 16 {
		t.Errorf("%.1f events per recommend call", per)
	}
	if r.Purchases == 0 || r.Purchases > int64(types[evPurchase]) || r.Revenue <= 0 || r.EventsByType[evView] > int64(types[evView]) {
		t.Errorf("report purchases %d revenue %.2f, by type %v; server %v", r.Purchases, r.Revenue, r.EventsByType, types)
	}
	if r.LatencySamples != int(r.RecommendCalls) || r.LatencyP50 <= 0 || r.LatencyP50 > r.LatencyP95 || r.LatencyP95 > r.LatencyP99 {
		t.Errorf("latency p50 %.3f p95 %.3f p99 %.3f over %d samples", r.LatencyP50, r.LatencyP95, r.LatencyP99, r.LatencySamples)
	}
}

// TestTasteClicks drives the fake server to serve, at random per request,
// either the products of the user's most viewed category ("taste") or random
// products, as an experiment, and checks that the simulated users click the
// first kind clearly more.
func TestTasteClicks(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.strategy = "ab"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const lists = 800
	f.onRecommend = func(calls int) {
		if calls >= lists {
			cancel()
		}
	}
	o := small(f.URL)
	o.Concurrency = 8
	o.Duration = 30 * time.Second
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	taste, random := r.Variants["exp1/taste"], r.Variants["exp1/random"]
	t.Logf("taste CTR %.2f%% of %d, random CTR %.2f%% of %d", 100*taste.CTR(), taste.Served, 100*random.CTR(), random.Served)
	if taste.Served < 3000 || random.Served < 3000 {
		t.Fatalf("too few samples: %+v %+v", taste, random)
	}
	// Expected roughly 13% vs 2.5%; with >= 3000 items each, the standard
	// errors are below 0.65 points, so the bounds below are > 10 of them away.
	if taste.CTR() < 2.5*random.CTR() || taste.CTR() < 0.05 {
		t.Errorf("taste CTR %.2f%% not clearly above random %.2f%%", 100*taste.CTR(), 100*random.CTR())
	}
	if taste.ListCTR() <= random.ListCTR() {
		t.Errorf("lists with a click: taste %.2f, random %.2f", taste.ListCTR(), random.ListCTR())
	}
	all := r.Recommendations
	if all.Served != taste.Served+random.Served || all.Clicks != taste.Clicks+random.Clicks || all.Lists != taste.Lists+random.Lists {
		t.Errorf("overall %+v is not the sum of the variants", all)
	}
	// The fake falls back to random items for users it has no views of.
	if s, rs := r.Sources["category_popular"], r.Sources["random"]; s.Served+rs.Served != all.Served || s.Clicks+rs.Clicks != all.Clicks || s.Served > taste.Served {
		t.Errorf("sources %+v, variant taste %+v", r.Sources, taste)
	}
}

// TestDeterministicWorker runs one worker twice against fresh fakes and
// checks the same events (but for timestamps) arrive in the same order.
func TestDeterministicWorker(t *testing.T) {
	t.Parallel()
	stream := func(seed int64) []string {
		f := newFake(t)
		o := small(f.URL)
		o.Seed, o.Concurrency, o.Products = seed, 1, 1000
		runUntil(t, f, o, 800)
		events, _, _, _ := f.snapshot()
		var out []string
		for _, e := range events[:800] {
			delete(e, "timestamp")
			b, _ := json.Marshal(e)
			out = append(out, string(b))
		}
		return out
	}
	a, b, c := stream(5), stream(5), stream(6)
	if !reflect.DeepEqual(a, b) {
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("event %d differs:\n%s\n%s", i, a[i], b[i])
			}
		}
	}
	if reflect.DeepEqual(a, c) {
		t.Error("seeds 5 and 6 sent the same events")
	}
}

func TestDurationBounds(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	o := small(f.URL)
	o.Products, o.Duration = 300, 700*time.Millisecond
	var progress bytes.Buffer
	o.Progress, o.progressEvery = &progress, 100*time.Millisecond
	start := time.Now()
	r, err := Run(t.Context(), o)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if took < o.Duration || took > o.Duration+time.Second {
		t.Errorf("Run took %v for Duration %v", took, o.Duration)
	}
	if r.Duration < o.Duration || r.Events == 0 || r.EventsPerSec <= 0 || len(r.Errors) > 0 {
		t.Errorf("report: duration %v, %d events, %.0f/s, errors %v", r.Duration, r.Events, r.EventsPerSec, r.Errors)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "events") || !strings.Contains(lines[0], "p99") || !strings.Contains(lines[0], "CTR") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

// TestCancelIsNotAnError cancels during the catalog upload; runUntil checks
// the same after the upload.
func TestCancelIsNotAnError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel()
		time.Sleep(50 * time.Millisecond) // the client gives up first
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	r, err := Run(ctx, small(srv.URL))
	if err != nil || r.ProductsUploaded != 0 {
		t.Fatalf("Run = %d uploaded, %v", r.ProductsUploaded, err)
	}
}

func TestHTTPErrorsCountAndContinue(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.failEvents = 3
	r := runUntil(t, f, small(f.URL), 1500)
	if r.Errors["503"] == 0 || !strings.Contains(r.ErrorSamples["503"], "log unavailable") {
		t.Errorf("errors %v %v", r.Errors, r.ErrorSamples)
	}
	if r.Events < 1000 {
		t.Errorf("only %d events accepted", r.Events)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	o := small(url)
	o.unreachableAfter = 300 * time.Millisecond
	o.Duration = 8 * time.Second
	start := time.Now()
	_, err := Run(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Run = %v, want an error naming %s", err, url)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("gave up after %v", took)
	}
}

// TestServerDies stops the server mid-run: Run gives up once it has been
// unreachable for unreachableAfter and returns what it measured until then.
func TestServerDies(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	var once sync.Once
	f.onEvents = func(total int) {
		if total >= 500 {
			once.Do(func() { go f.srv.Close() })
		}
	}
	o := small(f.URL)
	o.unreachableAfter, o.Duration = 300*time.Millisecond, 20*time.Second
	start := time.Now()
	r, err := Run(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), f.URL) {
		t.Fatalf("Run = %v, want an error naming %s", err, f.URL)
	}
	if took := time.Since(start); took > 6*time.Second || r.Events < 400 || r.Errors["network"] == 0 {
		t.Errorf("after %v: %d events, errors %v", took, r.Events, r.Errors)
	}
}

func TestPrint(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	r := runUntil(t, f, small(f.URL), 1000)
	var b bytes.Buffer
	r.Print(&b, f.URL+"/")
	out := b.String()
	t.Log("\n" + out)
	w := newWorld(small(f.URL))
	real := false
	for _, u := range w.Users {
		real = real || (u.ID == r.ExampleUserID && f.views[u.ID] != nil)
	}
	if !real {
		t.Errorf("example user %q is not a simulated user with events", r.ExampleUserID)
	}
	for _, want := range []string{
		"curl -s -X POST " + f.URL + `/v1/recommend -H 'Content-Type: application/json' -d '{"user_id":"` + r.ExampleUserID + `","num_recommendations":10}'`,
		"curl -s " + f.URL + "/v1/users/" + r.ExampleUserID + "/features",
		"curl -s " + f.URL + "/v1/products/" + r.ExampleProductID + "/features",
		"curl -s " + f.URL + "/metrics",
		"CTR", "p99", "purchases", "lists with a click",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Print output lacks %q", want)
		}
	}
}
