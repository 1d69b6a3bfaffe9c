package main

import (
	"os"
	"path/filepath"
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
