package analytics

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func TestHandlerBadParameters(t *testing.T) {
	a := newAgg(t, Options{})
	h := NewHandler(a)
	from, to := t0.Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339)
	tests := []struct{ name, query, param string }{
		{"missing metric", "from=" + from, "metric"},
		{"unknown metric", "metric=nope", "metric"},
		{"unknown grouping", "metric=ctr&group_by=color", "group_by"},
		{"ctr by source", "metric=ctr&group_by=source", "group_by"},
		{"bad from", "metric=ctr&from=yesterday&to=" + to, "from"},
		{"bad to", "metric=ctr&from=" + from + "&to=1700000000", "to"},
		{"to before from", "metric=ctr&from=" + to + "&to=" + from, "to"},
		{"bad step", "metric=ctr&step=often", "step"},
		{"sub-minute step", "metric=ctr&step=30s", "step"},
		{"too many points", "metric=ctr&from=2000-01-01T00:00:00Z&to=" + to, "step"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/analytics/series?"+tt.query, nil))
			var body struct{ Error, Param string }
			json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusBadRequest || body.Param != tt.param {
				t.Fatalf("got %d %s, want 400 naming %q", rec.Code, rec.Body, tt.param)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/analytics/series?metric=ctr", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

func TestHandlerSeries(t *testing.T) {
	a := newAgg(t, Options{})
	for _, r := range craftedStream() {
		a.Apply(r)
	}
	h := NewHandler(a)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/analytics/metrics", nil))
	var list struct {
		Metrics []MetricInfo
		GroupBy []string `json:"group_by"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || len(list.Metrics) != len(metricList) || len(list.GroupBy) != 5 {
		t.Fatalf("metrics: %d %s (%v)", rec.Code, rec.Body, err)
	}

	q := url.Values{"metric": {"ctr"}, "group_by": {"variant"}, "step": {"2m"},
		"from": {t0.Format(time.RFC3339)}, "to": {t0.Add(4 * time.Minute).Format(time.RFC3339)}}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/analytics/series?"+q.Encode(), nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("series: %d %s", rec.Code, rec.Body)
	}
	var res SeriesResult
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Metric != "ctr" || res.GroupBy != "variant" || res.StepSeconds != 120 || len(res.Timestamps) != 2 ||
		!res.Timestamps[0].Equal(t0) || !res.Timestamps[1].Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("result: %+v", res)
	}
	got := map[string][]float64{}
	for _, s := range res.Series {
		got[s.Key] = s.Values
	}
	// e1/A: 2 lists in [0,2m), 1 clicked; 1 list in [2m,4m), not clicked.
	// e1/B: 2 lists, both clicked; none later (null). none: 1 list, no click.
	want := map[string][]float64{"e1/A": {0.5, 0}, "e1/B": {1, nanV}, "none": {0, nanV}}
	if !sameSeries(got, want) {
		t.Fatalf("got %v, want %v (%s)", got, want, rec.Body)
	}
}

var nanV = func() float64 { var z float64; return z / z }()
