package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPhaseAt(t *testing.T) {
	r := &runner{o: Options{Phases: []Phase{{Name: "a"}, {Name: "b", At: time.Second}, {Name: "c", At: 2 * time.Second}}}}
	for _, tc := range []struct {
		off  time.Duration
		want int
	}{{-time.Millisecond, -1}, {0, 0}, {999 * time.Millisecond, 0}, {time.Second, 1}, {2 * time.Second, 2}, {time.Hour, 2}} {
		if got := r.phaseAt(tc.off); got != tc.want {
			t.Errorf("phaseAt(%v) = %d, want %d", tc.off, got, tc.want)
		}
	}
	if got := (&runner{}).phaseAt(time.Second); got != -1 {
		t.Errorf("no phases: %d", got)
	}
}

func TestPhasesValidate(t *testing.T) {
	base := Options{BaseURL: "http://x", Scenario: ScenarioRecommend, Rate: 1, Duration: 3 * time.Second}
	for _, tc := range []struct {
		name   string
		phases []Phase
		want   string
	}{
		{"first not at 0", []Phase{{Name: "a", At: time.Second}}, "Phases[0] a: starts at 1s, want 0"},
		{"not ascending", []Phase{{Name: "a"}, {Name: "b", At: time.Second}, {Name: "c", At: time.Second}}, "Phases[2] c: starts at 1s, not after b"},
		{"after the end", []Phase{{Name: "a"}, {Name: "b", At: 3 * time.Second}}, "not before the end"},
		{"no name", []Phase{{}}, "Phases[0]: no name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.Phases = tc.phases
			if err := o.validate(true); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRunPhases: each phase's Enter runs, every measured request lands in
// exactly one phase, and a comma-separated fallback counts once per name.
func TestRunPhases(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"recommendations": []any{}, "fallback": "feature_cache,source_similar"})
	}))
	var entered [3]atomic.Int32
	o := Options{BaseURL: srv.URL, Scenario: ScenarioRecommend, Rate: 100, Duration: 900 * time.Millisecond, Warmup: -1,
		Phases: []Phase{
			{Name: "before", Enter: func() { entered[0].Add(1) }},
			{Name: "down", At: 300 * time.Millisecond, Enter: func() { entered[1].Add(1) }},
			{Name: "after", At: 600 * time.Millisecond, Enter: func() { entered[2].Add(1) }},
		}}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range entered {
		if n := entered[i].Load(); n != 1 {
			t.Errorf("phase %d entered %d times", i, n)
		}
	}
	if len(res.Phases) != 3 || res.Phases[0].Phase != "before" || res.Phases[2].Phase != "after" {
		t.Fatalf("phases %+v", res.Phases)
	}
	var sent, ok int64
	for _, p := range res.Phases {
		sent += p.Sent + p.Late
		ok += p.OK
		if p.Sent == 0 || p.Fallbacks["feature_cache"] != p.OK || p.Fallbacks["source_similar"] != p.OK || p.Degraded != p.OK {
			t.Errorf("phase %s: sent %d, ok %d, degraded %d, fallbacks %v", p.Phase, p.Sent, p.OK, p.Degraded, p.Fallbacks)
		}
		if p.Duration != 300*time.Millisecond {
			t.Errorf("phase %s lasted %v", p.Phase, p.Duration)
		}
	}
	if sent != res.Sent+res.Late || ok != res.OK {
		t.Errorf("phases add up to %d due, %d ok; the run has %d, %d", sent, ok, res.Sent+res.Late, res.OK)
	}
	if a := res.Availability(); a != 1 {
		t.Errorf("availability %v", a)
	}
	var buf strings.Builder
	res.Print(&buf)
	if !strings.Contains(buf.String(), "source_similar 100.00%") || !strings.Contains(buf.String(), "\ndown ") {
		t.Errorf("summary:\n%s", buf.String())
	}
	b, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Phases []struct {
			Phase        string  `json:"phase"`
			Availability float64 `json:"availability"`
		} `json:"phases"`
	}
	if err := json.Unmarshal(b, &j); err != nil || len(j.Phases) != 3 || j.Phases[1].Phase != "down" || j.Phases[1].Availability != 1 {
		t.Errorf("JSON phases %+v (%v)", j.Phases, err)
	}
}

func TestCapacity(t *testing.T) {
	var n atomic.Int64
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "shed", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{}`))
	}))
	c, err := Capacity(context.Background(), Options{BaseURL: srv.URL}, 4, 200*time.Millisecond)
	if err != nil || c <= 0 {
		t.Fatalf("capacity %v, %v", c, err)
	}
	down := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	if _, err := Capacity(context.Background(), Options{BaseURL: down.URL}, 2, 100*time.Millisecond); err == nil {
		t.Error("no error from a server that answers nothing")
	}
}
