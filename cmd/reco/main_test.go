package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco/internal/app"
	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/feature"
)

// TestMain lets the test binary act as `reco` itself, so that crash tests
// can run it as a child process and kill it.
func TestMain(m *testing.M) {
	if args := os.Getenv("RECO_TEST_CHILD_ARGS"); args != "" {
		ctx := context.Background()
		if err := run(ctx, strings.Fields(args), os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "reco:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// server is a reco process running in-process on a loopback port.
type server struct {
	t    *testing.T
	URL  string
	App  *app.App
	stop func()
}

func testConfig(t *testing.T, dir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Addr = "127.0.0.1:0"
	cfg.OnlineStore.CheckpointInterval = config.Duration(200 * time.Millisecond)
	return cfg
}

func startServer(t *testing.T, cfg config.Config) *server {
	t.Helper()
	a, err := app.Open(cfg, app.Options{Logger: newLogger("error", io.Discard)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	s := &server{t: t, URL: "http://" + ln.Addr().String(), App: a}
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(s.stop)
	waitFor(t, 10*time.Second, func() bool { return a.Proc.Ready() })
	return s
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// do sends a request and decodes a JSON answer into out (if not nil).
func do(t *testing.T, method, url, ctype, body string, out any) int {
	t.Helper()
	return doWith(t, method, url, ctype, "", body, out)
}

// doAuth is do with an API key.
func doAuth(t *testing.T, method, url, key, body string, out any) int {
	t.Helper()
	return doWith(t, method, url, "", key, body, out)
}

func doWith(t *testing.T, method, url, ctype, key, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode
}

func (s *server) settle() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.App.WaitApplied(ctx); err != nil {
		s.t.Fatalf("wait applied: %v", err)
	}
	s.App.Store.RefreshIndex()
}

type userFeatures struct {
	UserID   string               `json:"user_id"`
	Features feature.UserFeatures `json:"features"`
}

type recResponse struct {
	UserID          json.RawMessage `json:"user_id"`
	RequestID       string          `json:"request_id"`
	ModelVersion    string          `json:"model_version"`
	Fallback        string          `json:"fallback"`
	LatencyMs       float64         `json:"latency_ms"`
	Recommendations []struct {
		ProductID string  `json:"product_id"`
		Score     float64 `json:"score"`
		Category  string  `json:"category"`
		Price     float64 `json:"price"`
		Source    string  `json:"source"`
		Reason    string  `json:"reason"`
	} `json:"recommendations"`
}

func ndjson(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func TestEndToEnd(t *testing.T) {
	s := startServer(t, testConfig(t, t.TempDir()))

	// Catalog: two categories; p-out is out of stock, p-gone unavailable.
	var up map[string]int
	catalog := `[
	 {"product_id":"s1","category":"shoes","price":50,"inventory":10},
	 {"product_id":"s2","category":"shoes","price":55,"inventory":10},
	 {"product_id":"s3","category":"shoes","price":60,"inventory":10},
	 {"product_id":"s4","category":"shoes","price":65,"inventory":10},
	 {"product_id":"p-out","category":"shoes","price":52,"inventory":0},
	 {"product_id":"p-gone","category":"shoes","price":52,"available":false},
	 {"product_id":"h1","category":"hats","price":20,"inventory":5},
	 {"product_id":"h2","category":"hats","price":25,"inventory":5},
	 {"product_id":"b1","category":"bags","price":80,"inventory":5}]`
	if code := do(t, "PUT", s.URL+"/v1/products", "", catalog, &up); code != 200 || up["upserted"] != 9 {
		t.Fatalf("PUT products: %d %v", code, up)
	}
	// History: another user makes everything popular, p-out and p-gone too.
	var lines []string
	for _, p := range []string{"s1", "s2", "s3", "s4", "p-out", "p-gone", "h1", "h2", "b1"} {
		for i := 0; i < 3; i++ {
			lines = append(lines, fmt.Sprintf(`{"user_id":"crowd%d","event_type":"view","product_id":%q}`, i, p))
		}
	}
	var acc map[string]int
	if code := do(t, "POST", s.URL+"/v1/events", "application/x-ndjson", ndjson(lines...), &acc); code != 202 || acc["accepted"] != len(lines) {
		t.Fatalf("POST events: %d %v", code, acc)
	}
	// u1 (an integer id) browses shoes and buys s1.
	body := ndjson(
		`{"user_id":7,"event_type":"view","product_id":"s1","session_id":"a","timestamp":"2026-11-29T10:00:00Z"}`,
		`{"user_id":7,"event_type":"click","product_id":"s1","session_id":"a","timestamp":1795946460000}`,
		`{"user_id":7,"event_type":"add_to_cart","product_id":"s1","session_id":"a"}`,
		`{"user_id":7,"event_type":"purchase","product_id":"s1","session_id":"a","price":50,"quantity":2}`,
		`{"user_id":7,"event_type":"view","product_id":"h1","session_id":"a","price":20}`,
		`{"user_id":7,"event_type":"review","product_id":"s1","rating":4}`,
	)
	if code := do(t, "POST", s.URL+"/v1/events", "application/x-ndjson", body, &acc); code != 202 || acc["accepted"] != 6 {
		t.Fatalf("POST events: %d %v", code, acc)
	}
	s.settle()

	var uf userFeatures
	if code := do(t, "GET", s.URL+"/v1/users/7/features", "", "", &uf); code != 200 {
		t.Fatalf("user features: %d", code)
	}
	f := uf.Features
	if f.TotalEvents != 6 || f.Clicks != 1 || f.Purchases != 1 || f.AddToCarts != 1 || f.PurchaseRate != 1 ||
		f.CategoriesViewed != 2 || f.FavoriteCategory != "shoes" || f.PurchaseTier != "high" {
		t.Errorf("user features = %+v", f)
	}
	if f.FirstEventTime != "2026-11-29T10:00:00Z" {
		t.Errorf("first_event_time = %q", f.FirstEventTime)
	}
	var pf struct {
		Features struct {
			Category       string   `json:"category"`
			Price          float64  `json:"price"`
			Popularity     float64  `json:"popularity_score"`
			ConversionRate float64  `json:"conversion_rate"`
			AvgRating      *float64 `json:"avg_rating"`
			InventoryLevel *int64   `json:"inventory_level"`
		} `json:"features"`
	}
	if code := do(t, "GET", s.URL+"/v1/products/s1/features", "", "", &pf); code != 200 {
		t.Fatalf("product features: %d", code)
	}
	if pf.Features.Category != "shoes" || pf.Features.InventoryLevel == nil || *pf.Features.InventoryLevel != 8 ||
		pf.Features.AvgRating == nil || *pf.Features.AvgRating != 4 || pf.Features.Popularity <= 0 {
		t.Errorf("product features = %+v", pf.Features)
	}
	if code := do(t, "GET", s.URL+"/v1/users/nobody/features", "", "", nil); code != 404 {
		t.Errorf("unknown user features: %d, want 404", code)
	}

	// Recommend: the id comes back as sent; never s1 (bought), p-out or
	// p-gone; no duplicates; shoes first (the user's taste).
	var rr recResponse
	if code := do(t, "POST", s.URL+"/v1/recommend", "", `{"user_id":7,"session_id":"a","num_recommendations":5}`, &rr); code != 200 {
		t.Fatalf("recommend: %d", code)
	}
	if string(rr.UserID) != "7" {
		t.Errorf("user_id = %s, want 7 (an integer, as sent)", rr.UserID)
	}
	if rr.RequestID == "" || rr.ModelVersion == "" || len(rr.Recommendations) != 5 {
		t.Fatalf("recommend response = %+v", rr)
	}
	seen := map[string]bool{}
	for _, it := range rr.Recommendations {
		if seen[it.ProductID] {
			t.Errorf("duplicate %s", it.ProductID)
		}
		seen[it.ProductID] = true
		switch it.ProductID {
		case "s1", "p-out", "p-gone":
			t.Errorf("recommended %s (purchased or not in stock)", it.ProductID)
		}
		if it.Source == "" || it.Reason == "" || it.Category == "" {
			t.Errorf("item without source, reason or category: %+v", it)
		}
	}
	if rr.Recommendations[0].Category != "shoes" {
		t.Errorf("first recommendation %+v is not in the user's favourite category", rr.Recommendations[0])
	}
	// An unknown user gets popular items.
	if code := do(t, "POST", s.URL+"/v1/recommend", "", `{"user_id":"stranger"}`, &rr); code != 200 || len(rr.Recommendations) == 0 {
		t.Fatalf("unknown user: %d %+v", code, rr)
	}
	if string(rr.UserID) != `"stranger"` {
		t.Errorf("user_id = %s", rr.UserID)
	}

	// The impression reaches the log (asynchronously) and the stream counts it.
	waitFor(t, 5*time.Second, func() bool {
		s.settle()
		u, ok := s.App.Store.User("7")
		return ok && u.Impressions == 1
	})

	for _, path := range []string{"/health", "/ready"} {
		if code := do(t, "GET", s.URL+path, "", "", nil); code != 200 {
			t.Errorf("%s: %d", path, code)
		}
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"reco_http_request_duration_seconds_bucket", "reco_recommend_stage_duration_seconds",
		`reco_events_ingested_total{type="purchase"} 1`, "reco_stream_lag_records", "reco_feature_freshness_seconds",
		"reco_stream_event_delay_seconds"} {
		if !bytes.Contains(mb, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestBadInput(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Limits.MaxBatch = 5
	cfg.Limits.MaxBodyBytes = 4096
	s := startServer(t, cfg)
	type errBody struct {
		Error   string `json:"error"`
		Details []struct {
			Index *int   `json:"index"`
			Field string `json:"field"`
		} `json:"details"`
	}
	cases := []struct {
		name, method, path, ctype, body string
		code                            int
		field                           string // a detail that must name this field
		index                           int
	}{
		{"missing user_id", "POST", "/v1/events", "", `{"event_type":"view","product_id":"p"}`, 400, "user_id", 0},
		{"bad type", "POST", "/v1/events", "", `{"user_id":"u","event_type":"look","product_id":"p"}`, 400, "event_type", 0},
		{"bad price second", "POST", "/v1/events", "", `[{"user_id":"u","event_type":"view","product_id":"p"},{"user_id":"u","event_type":"view","product_id":"p","price":-1}]`, 400, "price", 1},
		{"price as text", "POST", "/v1/events", "", `{"user_id":"u","event_type":"view","product_id":"p","price":"cheap"}`, 400, "price", 0},
		{"rating range", "POST", "/v1/events", "", `{"user_id":"u","event_type":"review","product_id":"p","rating":9}`, 400, "rating", 0},
		{"bad timestamp", "POST", "/v1/events", "", `{"user_id":"u","event_type":"view","product_id":"p","timestamp":"yesterday"}`, 400, "timestamp", 0},
		{"malformed ndjson line", "POST", "/v1/events", "application/x-ndjson", "{\"user_id\":\"u\",\"event_type\":\"view\",\"product_id\":\"p\"}\n{oops\n", 400, "", 1},
		{"too many", "POST", "/v1/events", "application/x-ndjson", strings.Repeat(`{"user_id":"u","event_type":"view","product_id":"p"}`+"\n", 6), 413, "", 0},
		{"too big", "POST", "/v1/events", "", `[` + strings.Repeat(`{"user_id":"u","event_type":"view","product_id":"p"},`, 100) + `{}]`, 413, "", 0},
		{"empty", "POST", "/v1/events", "", ``, 400, "", 0},
		{"product negative inventory", "PUT", "/v1/products", "", `{"product_id":"x","inventory":-3}`, 400, "inventory", 0},
		{"product without id", "PUT", "/v1/products", "", `[{"category":"c"}]`, 400, "product_id", 0},
		{"recommend without user", "POST", "/v1/recommend", "", `{"num_recommendations":3}`, 400, "user_id", -1},
		{"recommend bad n", "POST", "/v1/recommend", "", `{"user_id":"u","num_recommendations":0}`, 400, "num_recommendations", -1},
		{"recommend n too big", "POST", "/v1/recommend", "", `{"user_id":"u","num_recommendations":5000}`, 400, "num_recommendations", -1},
		{"recommend malformed", "POST", "/v1/recommend", "", `{"user_id":`, 400, "", -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var eb errBody
			code := do(t, tc.method, s.URL+tc.path, tc.ctype, tc.body, &eb)
			if code != tc.code {
				t.Fatalf("status %d, want %d (%+v)", code, tc.code, eb)
			}
			if eb.Error == "" {
				t.Errorf("no error message")
			}
			if tc.field != "" {
				found := false
				for _, d := range eb.Details {
					idx := -1
					if d.Index != nil {
						idx = *d.Index
					}
					if d.Field == tc.field && idx == tc.index {
						found = true
					}
				}
				if !found {
					t.Errorf("details %+v do not name %s at %d", eb.Details, tc.field, tc.index)
				}
			}
		})
	}
	// Nothing of the refused batches was applied.
	s.settle()
	if st := s.App.Store.Stats(); st.Users != 0 || st.Products != 0 {
		t.Errorf("refused input changed state: %+v", st)
	}
	for p := 0; p < s.App.Log.Partitions(); p++ {
		if end := s.App.Log.EndOffset(p); end != 0 {
			t.Errorf("partition %d has %d records after only refused input", p, end)
		}
	}
}

// TestRestartKeepsState stops a server gracefully and starts another on the
// same data dir: the state is the same.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	var lines []string
	for i := 0; i < 300; i++ {
		lines = append(lines, fmt.Sprintf(`{"user_id":"u%d","event_type":"click","product_id":"p%d"}`, i%7, i%11))
	}
	if code := do(t, "POST", s.URL+"/v1/events", "application/x-ndjson", ndjson(lines...), nil); code != 202 {
		t.Fatalf("ingest: %d", code)
	}
	s.settle()
	before, _ := s.App.Store.User("u3")
	s.stop()

	s2 := startServer(t, testConfig(t, dir))
	after, ok := s2.App.Store.User("u3")
	if !ok || after.Total != before.Total || after.Clicks != before.Clicks || before.Total == 0 {
		t.Fatalf("after restart u3 = %+v, before %+v", after, before)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "checkpoint")); err != nil {
		t.Errorf("no checkpoint after a graceful stop: %v", err)
	}
}
