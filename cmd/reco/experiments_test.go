package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco/internal/experiment"
)

func TestExperimentsEndToEnd(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Auth.AdminKeys = []string{"adm"}
	s := startServer(t, cfg)
	postHistory(t, s.URL, 3000)
	s.settle()

	admin := func(method, path, body string, out any) int {
		t.Helper()
		return doAuth(t, method, s.URL+path, "adm", body, out)
	}
	// Bad definitions are refused naming the field; nothing is created.
	var eb struct{ Error string }
	if code := admin("POST", "/v1/experiments", `{"id":"x","variants":[{"name":"a","weight":1}]}`, &eb); code != 400 || !strings.Contains(eb.Error, "variants") {
		t.Errorf("one variant: %d %q", code, eb.Error)
	}
	if code := admin("POST", "/v1/experiments", `{"id":"x","variants":[],"colour":"red"}`, &eb); code != 400 || !strings.Contains(eb.Error, "colour") {
		t.Errorf("unknown field: %d %q", code, eb.Error)
	}
	if code := do(t, "POST", s.URL+"/v1/experiments", "", `{"id":"y"}`, nil); code != 401 {
		t.Errorf("without a key: %d", code)
	}
	var list struct{ Experiments []experiment.Experiment }
	do(t, "GET", s.URL+"/v1/experiments", "", "", &list)
	if len(list.Experiments) != 0 {
		t.Fatalf("refused definitions created %+v", list.Experiments)
	}

	body := `{"id":"rank-test","status":"running","variants":[
	  {"name":"control","weight":1,"strategy":{"popular_only":true}},
	  {"name":"treatment","weight":1,"strategy":{"model":"rules"}}]}`
	if code := admin("POST", "/v1/experiments", body, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	// Every user is in one arm, always the same; the popular arm is ranked
	// by popularity.
	arms := map[string]int{}
	for i := 0; i < 200; i++ {
		uid := fmt.Sprintf("u%d", i%80)
		var rr struct {
			RequestID    string `json:"request_id"`
			ModelVersion string `json:"model_version"`
			Experiment   *struct {
				ID      string `json:"id"`
				Variant string `json:"variant"`
			} `json:"experiment"`
			Recommendations []struct {
				ProductID string `json:"product_id"`
			} `json:"recommendations"`
		}
		do(t, "POST", s.URL+"/v1/recommend", "", fmt.Sprintf(`{"user_id":%q}`, uid), &rr)
		if rr.Experiment == nil || rr.Experiment.ID != "rank-test" {
			t.Fatalf("response without the experiment: %+v", rr)
		}
		want := map[string]string{"control": "popular-v1", "treatment": "rules-v1"}[rr.Experiment.Variant]
		if rr.ModelVersion != want {
			t.Errorf("variant %s served by %s, want %s", rr.Experiment.Variant, rr.ModelVersion, want)
		}
		arms[rr.Experiment.Variant]++
		// Treatment users click the first item.
		if rr.Experiment.Variant == "treatment" && len(rr.Recommendations) > 0 {
			ev := fmt.Sprintf(`{"user_id":%q,"event_type":"click","product_id":%q,"request_id":%q}`, uid, rr.Recommendations[0].ProductID, rr.RequestID)
			if code := do(t, "POST", s.URL+"/v1/events", "", ev, nil); code != 202 {
				t.Fatalf("click: %d", code)
			}
		}
	}
	if arms["control"] < 40 || arms["treatment"] < 40 {
		t.Errorf("arms %v", arms)
	}
	var res experiment.ResultsJSON
	waitFor(t, 10*time.Second, func() bool {
		s.settle()
		do(t, "GET", s.URL+"/v1/experiments/rank-test/results", "", "", &res)
		var lists int64
		for _, v := range res.Variants {
			lists += v.Impressions
		}
		return lists == 200
	})
	byName := map[string]experiment.VariantResult{}
	for _, v := range res.Variants {
		byName[v.Name] = v
	}
	c, tr := byName["control"], byName["treatment"]
	if c.Impressions != int64(arms["control"]) || tr.Impressions != int64(arms["treatment"]) {
		t.Errorf("lists %d/%d, served %v", c.Impressions, tr.Impressions, arms)
	}
	if tr.ClickedImpressions != tr.Impressions || c.ClickedImpressions != 0 || float64(tr.CTR) != 1 {
		t.Errorf("clicked lists: control %+v treatment %+v", c, tr)
	}
	found := false
	for _, cmp := range res.Comparisons {
		if cmp.Metric == "ctr" && cmp.Variant == "treatment" {
			found = true
			if !(float64(cmp.PValue) < 0.001) {
				t.Errorf("ctr comparison %+v", cmp)
			}
		}
	}
	if !found {
		t.Errorf("no ctr comparison in %+v", res.Comparisons)
	}
	// Stopping the experiment stops the exposures.
	if code := admin("PATCH", "/v1/experiments/rank-test", `{"status":"stopped"}`, nil); code != 200 {
		t.Fatalf("stop: %d", code)
	}
	var rr map[string]any
	do(t, "POST", s.URL+"/v1/recommend", "", `{"user_id":"u1"}`, &rr)
	if _, ok := rr["experiment"]; ok {
		t.Errorf("stopped experiment still assigned: %v", rr["experiment"])
	}
	// Analytics saw the lists and the clicks.
	var series struct {
		Points []json.RawMessage `json:"points"`
	}
	if code := do(t, "GET", s.URL+"/v1/analytics/series?metric=impressions&step=1m", "", "", &series); code != 200 {
		t.Errorf("analytics series: %d", code)
	}
	if code := do(t, "GET", s.URL+"/v1/analytics/series?metric=nope", "", "", nil); code != 400 {
		t.Errorf("analytics bad metric: %d", code)
	}
}
