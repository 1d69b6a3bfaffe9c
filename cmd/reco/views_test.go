package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco/internal/config"
)

func TestFeatureViews(t *testing.T) {
	dir := t.TempDir()
	yaml := `feature_views:
  views:
    - name: user_recent_clicks
      entity: user
      ttl: 1h
      features:
        - {name: clicks_1h, agg: window_count, events: [click], window: 1h, buckets: 12}
        - {name: spend, type: float64, agg: sum, field: revenue, events: [purchase], default: 0}
`
	path := filepath.Join(dir, "reco.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if err := config.Parse([]byte(yaml), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.DataDir, cfg.Addr = filepath.Join(dir, "data"), "127.0.0.1:0"
	s := startServer(t, cfg)

	now := time.Now()
	body := ndjson(
		`{"user_id":"v1","event_type":"click","product_id":"p1","timestamp":`+jsonTime(now.Add(-2*time.Hour))+`}`,
		`{"user_id":"v1","event_type":"click","product_id":"p2","timestamp":`+jsonTime(now.Add(-10*time.Minute))+`}`,
		`{"user_id":"v1","event_type":"purchase","product_id":"p2","price":12.5,"quantity":2}`,
	)
	if code := do(t, "POST", s.URL+"/v1/events", "application/x-ndjson", body, nil); code != 202 {
		t.Fatal(code)
	}
	s.settle()
	var list struct {
		FeatureViews []struct {
			Name     string `json:"name"`
			Entity   string `json:"entity"`
			Entities int    `json:"entities"`
		} `json:"feature_views"`
	}
	do(t, "GET", s.URL+"/v1/feature-views", "", "", &list)
	names := map[string]int{}
	for _, v := range list.FeatureViews {
		names[v.Name] = v.Entities
	}
	if _, ok := names["user_features"]; !ok || names["user_recent_clicks"] != 1 {
		t.Fatalf("feature views: %+v", list.FeatureViews)
	}
	type value struct {
		Value  any     `json:"value"`
		Status string  `json:"status"`
		Age    float64 `json:"age_seconds"`
	}
	var uf struct {
		Views map[string]map[string]value `json:"views"`
	}
	do(t, "GET", s.URL+"/v1/users/v1/features", "", "", &uf)
	rc := uf.Views["user_recent_clicks"]
	if rc["clicks_1h"].Status != "present" || rc["clicks_1h"].Value != float64(1) {
		t.Errorf("clicks_1h = %+v, want 1 (one click in the last hour)", rc["clicks_1h"])
	}
	if rc["spend"].Value != float64(25) {
		t.Errorf("spend = %+v, want 25", rc["spend"])
	}
	if c := uf.Views["user_features"]["clicks"]; c.Status != "present" || c.Value != float64(2) || c.Age < 0 || c.Age > 60 {
		t.Errorf("user_features.clicks = %+v", c)
	}
}

func jsonTime(t time.Time) string {
	b, _ := t.MarshalJSON()
	return string(b)
}

// TestDeclaredViewHistory: a declared view's history reaches the offline
// store through the stream processor's checkpoints, and `reco features
// history` joins it point in time: nothing before the first event, then the
// value as of each entity row's time, never a later one.
func TestDeclaredViewHistory(t *testing.T) {
	dir := t.TempDir()
	yaml := `feature_views:
  views:
    - name: user_recent_clicks
      entity: user
      ttl: 1h
      features:
        - {name: clicks_1h, agg: window_count, events: [click], window: 1h, buckets: 12}
        - {name: spend, type: float64, agg: sum, field: revenue, events: [purchase], default: 0}
`
	path := filepath.Join(dir, "reco.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, filepath.Join(dir, "data"))
	if err := config.Parse([]byte(yaml), &cfg); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, cfg)

	now := time.Now().Truncate(time.Millisecond)
	t1, t2a, t2b, t3 := now.Add(-100*time.Minute), now.Add(-40*time.Minute), now.Add(-30*time.Minute), now.Add(-20*time.Minute)
	ms := func(t time.Time) string { return msStr(t.UnixMilli()) }
	ents := filepath.Join(dir, "ents.csv")
	os.WriteFile(ents, []byte("user_id,timestamp\n"+
		"u1,"+ms(t1.Add(-time.Millisecond))+"\n"+ // before the first event: empty
		"u1,"+ms(t1)+"\n"+ // the first row
		"u1,"+ms(t2a.Add(-time.Millisecond))+"\n"+ // still the first: never a later row
		"u1,"+ms(t3)+"\n"+ // the second
		"u1,"+ms(t3.Add(time.Hour))+"\n"+ // the second, exactly TTL old: expired
		"u9,"+ms(t3)+"\n"), 0o644) // unknown
	out := filepath.Join(dir, "out.csv")
	join := func(features string) [][]string {
		t.Helper()
		msg, err := runReco("features", "history", "--config", path, "--data", cfg.DataDir, "--entities", ents, "--features", features, "--out", out)
		if err != nil {
			t.Fatalf("%v\n%s", err, msg)
		}
		data, _ := os.ReadFile(out)
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil || len(recs) != 7 {
			t.Fatalf("output %v:\n%s", err, data)
		}
		return recs
	}
	post := func(lines ...string) {
		t.Helper()
		if code := do(t, "POST", s.URL+"/v1/events", "application/x-ndjson", ndjson(lines...), nil); code != 202 {
			t.Fatal(code)
		}
		s.settle()
	}
	// waitRow waits until the row at entity row i has the value want (the
	// next checkpoint seals it, and the writer writes it once durable).
	waitRow := func(i int, want string) [][]string {
		t.Helper()
		var recs [][]string
		waitFor(t, 15*time.Second, func() bool {
			recs = join("user_recent_clicks:clicks_1h,user_recent_clicks:spend")
			return strings.Join(recs[i+1][2:], ",") == want
		})
		return recs
	}

	post(`{"user_id":"u1","event_type":"click","product_id":"p1","timestamp":` + jsonTime(t1) + `}`)
	waitRow(1, "1,0")
	post(
		`{"user_id":"u1","event_type":"click","product_id":"p2","timestamp":`+jsonTime(t2a)+`}`,
		`{"user_id":"u1","event_type":"click","product_id":"p3","timestamp":`+jsonTime(t2b)+`}`,
		`{"user_id":"u1","event_type":"purchase","product_id":"p3","price":12.5,"quantity":2,"timestamp":`+jsonTime(t3)+`}`,
	)
	recs := waitRow(3, "2,25") // the click at t1 is out of the hour by t3
	want := []string{
		"user_id,timestamp,clicks_1h,spend",
		"u1," + ms(t1.Add(-time.Millisecond)) + ",,",
		"u1," + ms(t1) + ",1,0",
		"u1," + ms(t2a.Add(-time.Millisecond)) + ",1,0",
		"u1," + ms(t3) + ",2,25",
		"u1," + ms(t3.Add(time.Hour)) + ",,",
		"u9," + ms(t3) + ",,",
	}
	if got := flat(recs); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("history\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The shipped user_features view's history is views.user_features
	// (user_features is the 5-minute windows).
	recs = join("views.user_features:clicks")
	if got := recs[4][2]; got != "3" {
		t.Errorf("views.user_features:clicks at t3 = %q, want 3", got)
	}
}
