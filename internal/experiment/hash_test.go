package experiment

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type gbCases struct {
	Hash            [][]json.RawMessage `json:"hash"`
	GetBucketRange  [][]json.RawMessage `json:"getBucketRange"`
	ChooseVariation [][]json.RawMessage `json:"chooseVariation"`
	InNamespace     [][]json.RawMessage `json:"inNamespace"`
}

func loadGB(t *testing.T) gbCases {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "growthbook_cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c gbCases
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func must(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}

func TestGrowthBookHash(t *testing.T) {
	for _, c := range loadGB(t).Hash {
		var seed, value string
		var version int
		var want *float64
		must(t, c[0], &seed)
		must(t, c[1], &value)
		must(t, c[2], &version)
		must(t, c[3], &want)
		t.Run(fmt.Sprintf("%q/%q/v%d", seed, value, version), func(t *testing.T) {
			got, ok := Hash(seed, value, version)
			if want == nil {
				if ok {
					t.Fatalf("Hash = %v, want none", got)
				}
				return
			}
			if !ok || got != *want {
				t.Fatalf("Hash = %v, %v; want %v", got, ok, *want)
			}
		})
	}
}

func TestGrowthBookBucketRanges(t *testing.T) {
	for _, c := range loadGB(t).GetBucketRange {
		var name string
		var args []json.RawMessage
		var want [][2]float64
		must(t, c[0], &name)
		must(t, c[1], &args)
		must(t, c[2], &want)
		t.Run(name, func(t *testing.T) {
			var n int
			var cov float64
			var w []float64
			must(t, args[0], &n)
			must(t, args[1], &cov)
			must(t, args[2], &w)
			got := BucketRanges(n, cov, w)
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for i := range got {
				// GrowthBook's runners round to 6 decimals (0.2*0.2 is
				// 0.04000000000000001 in every SDK).
				if math.Abs(got[i].Start-want[i][0]) > 1e-9 || math.Abs(got[i].End-want[i][1]) > 1e-9 {
					t.Fatalf("got %v, want %v", got, want)
				}
			}
		})
	}
}

func TestGrowthBookChooseVariation(t *testing.T) {
	for _, c := range loadGB(t).ChooseVariation {
		var name string
		var n float64
		var ranges [][2]float64
		var want int
		must(t, c[0], &name)
		must(t, c[1], &n)
		must(t, c[2], &ranges)
		must(t, c[3], &want)
		t.Run(name, func(t *testing.T) {
			rs := make([]Range, len(ranges))
			for i, r := range ranges {
				rs[i] = Range{r[0], r[1]}
			}
			if got := ChooseVariation(n, rs); got != want {
				t.Fatalf("ChooseVariation(%v, %v) = %d, want %d", n, rs, got, want)
			}
		})
	}
}

func TestGrowthBookInNamespace(t *testing.T) {
	for _, c := range loadGB(t).InNamespace {
		var name, user string
		var ns []json.RawMessage
		var want bool
		must(t, c[0], &name)
		must(t, c[1], &user)
		must(t, c[2], &ns)
		must(t, c[3], &want)
		t.Run(name, func(t *testing.T) {
			var n Namespace
			must(t, ns[0], &n.ID)
			must(t, ns[1], &n.Start)
			must(t, ns[2], &n.End)
			if got := InNamespace(user, n); got != want {
				t.Fatalf("InNamespace(%q, %+v) = %v, want %v", user, n, got, want)
			}
		})
	}
}

// GrowthBook's experiment cases: seed "feature-exp", weights
// 0.3334/0.3333/0.3333, coverage 1: i123 (bucket 0.9943) gets variation 2,
// d123 (0.6468) variation 1.
func TestAssignMatchesGrowthBook(t *testing.T) {
	e := &Experiment{ID: "whatever", Salt: "feature-exp", Variants: []Variant{
		{Name: "control", Weight: 0.3334}, {Name: "red", Weight: 0.3333}, {Name: "blue", Weight: 0.3333}}}
	e.Normalize()
	for user, want := range map[string]string{"i123": "blue", "d123": "red"} {
		if got, ok := Assign(e, user, time.Now()); !ok || got != want {
			t.Errorf("Assign(%s) = %q, %v; want %q", user, got, ok, want)
		}
	}
	// The salt defaults to the id.
	e2 := &Experiment{ID: "feature-exp", Variants: e.Variants}
	e2.Normalize()
	if got, _ := Assign(e2, "i123", time.Now()); got != "blue" {
		t.Errorf("salt default: got %q", got)
	}
}

// Raising coverage only moves users from "not in the experiment" into a
// variant, never between variants.
func TestCoverageMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	for trial := range 20 {
		e := &Experiment{ID: fmt.Sprintf("exp-%d", trial), Variants: []Variant{
			{Name: "a", Weight: rng.Float64() + 0.01}, {Name: "b", Weight: rng.Float64() + 0.01}, {Name: "c", Weight: rng.Float64()}}}
		covs := []float64{0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1}
		for u := range 2000 {
			user := fmt.Sprintf("user-%d", u)
			prev := ""
			for _, c := range covs {
				e.Coverage = c
				v, ok := Assign(e, user, now)
				if prev != "" && (!ok || v != prev) {
					t.Fatalf("%s %s: coverage %v moved from %q to %q (%v)", e.ID, user, c, prev, v, ok)
				}
				if ok {
					prev = v
				}
			}
			if prev == "" {
				t.Fatalf("%s: not assigned at coverage 1", user)
			}
		}
	}
}

func TestAssignSplit(t *testing.T) {
	e := &Experiment{ID: "split", Coverage: 0.5, Variants: []Variant{{Name: "a", Weight: 1}, {Name: "b", Weight: 3}}}
	counts := map[string]int{}
	const n = 40000
	for u := range n {
		if v, ok := Assign(e, fmt.Sprintf("u%d", u), time.Now()); ok {
			counts[v]++
		}
	}
	// Expect 5000 / 15000; 4 sd of a binomial is about 170.
	if math.Abs(float64(counts["a"])-5000) > 300 || math.Abs(float64(counts["b"])-15000) > 400 {
		t.Fatalf("split %v, want about 5000/15000", counts)
	}
}

func TestAssignRules(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	base := func() *Experiment {
		return &Experiment{ID: "rules", Variants: []Variant{{Name: "control", Weight: 1}, {Name: "test", Weight: 1}},
			Start: t0, Stop: t0.Add(48 * time.Hour), Forced: map[string]string{"qa": "test"}}
	}
	tests := []struct {
		name   string
		mod    func(*Experiment)
		user   string
		at     time.Time
		want   string
		wantOK bool
	}{
		{"running", nil, "u1", t0.Add(time.Hour), "", true},
		{"before start", nil, "u1", t0.Add(-time.Second), "", false},
		{"at stop", nil, "u1", t0.Add(48 * time.Hour), "", false},
		{"draft", func(e *Experiment) { e.Status = Draft }, "u1", t0.Add(time.Hour), "", false},
		{"stopped", func(e *Experiment) { e.Status = Stopped }, "u1", t0.Add(time.Hour), "", false},
		{"forced", nil, "qa", t0.Add(time.Hour), "test", true},
		{"forced in draft", func(e *Experiment) { e.Status = Draft }, "qa", t0.Add(time.Hour), "test", true},
		{"forced outside dates", nil, "qa", t0.Add(-time.Hour), "test", true},
		{"forced but stopped", func(e *Experiment) { e.Status = Stopped }, "qa", t0.Add(time.Hour), "", false},
		{"empty user", nil, "", t0.Add(time.Hour), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base()
			if tt.mod != nil {
				tt.mod(e)
			}
			e.Normalize()
			got, ok := Assign(e, tt.user, tt.at)
			if ok != tt.wantOK || (tt.want != "" && got != tt.want) {
				t.Fatalf("Assign = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestSetNamespaceExclusion(t *testing.T) {
	mk := func(id string, start, end float64) *Experiment {
		return &Experiment{ID: id, Variants: []Variant{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}},
			Namespace: &Namespace{ID: "ranking", Start: start, End: end}}
	}
	free := &Experiment{ID: "free", Variants: []Variant{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}}}
	s := NewSet(mk("left", 0, 0.5), mk("right", 0.5, 1), free)
	now := time.Now()
	in := map[string]int{}
	for u := range 5000 {
		user := fmt.Sprintf("user-%d", u)
		as := s.AssignAll(user, now)
		got := map[string]bool{}
		for _, a := range as {
			got[a.Experiment] = true
			in[a.Experiment]++
		}
		if got["left"] == got["right"] {
			t.Fatalf("%s: left %v right %v: want exactly one", user, got["left"], got["right"])
		}
		if !got["free"] {
			t.Fatalf("%s: not in the experiment without namespace", user)
		}
		p, ok := s.Primary(user, now)
		if !ok || p.Experiment != as[0].Experiment {
			t.Fatalf("Primary = %+v, want first of %+v", p, as)
		}
	}
	if in["left"] < 2000 || in["right"] < 2000 {
		t.Fatalf("namespace split %v", in)
	}
}

func TestValidate(t *testing.T) {
	ok := func() *Experiment {
		return &Experiment{ID: "exp.1_a-b", Variants: []Variant{{Name: "a", Weight: 1}, {Name: "b", Weight: 0}}}
	}
	tests := []struct {
		name  string
		mod   func(*Experiment)
		field string // "" = valid
	}{
		{"valid", func(*Experiment) {}, ""},
		{"bad id", func(e *Experiment) { e.ID = "a b" }, "id"},
		{"long id", func(e *Experiment) { e.ID = string(make([]byte, 65)) }, "id"},
		{"one variant", func(e *Experiment) { e.Variants = e.Variants[:1] }, "variants"},
		{"duplicate name", func(e *Experiment) { e.Variants[1].Name = "a" }, "variants[1].name"},
		{"empty name", func(e *Experiment) { e.Variants[0].Name = "" }, "variants[0].name"},
		{"negative weight", func(e *Experiment) { e.Variants[1].Weight = -1 }, "variants[1].weight"},
		{"zero weights", func(e *Experiment) { e.Variants[0].Weight = 0 }, "variants.weight"},
		{"NaN weight", func(e *Experiment) { e.Variants[0].Weight = math.NaN() }, "variants[0].weight"},
		{"coverage", func(e *Experiment) { e.Coverage = 1.5 }, "coverage"},
		{"status", func(e *Experiment) { e.Status = "paused" }, "status"},
		{"namespace", func(e *Experiment) { e.Namespace = &Namespace{ID: "n", Start: 0.5, End: 0.5} }, "namespace"},
		{"namespace id", func(e *Experiment) { e.Namespace = &Namespace{Start: 0, End: 0.5} }, "namespace.id"},
		{"stop", func(e *Experiment) { e.Start = time.Unix(100, 0); e.Stop = time.Unix(50, 0) }, "stop"},
		{"forced", func(e *Experiment) { e.Forced = map[string]string{"u": "zz"} }, "forced.u"},
		{"source", func(e *Experiment) { e.Variants[0].Strategy.Sources = map[string]float64{"trending": -1} }, "variants[0].strategy.sources.trending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok()
			tt.mod(e)
			e.Normalize()
			err := e.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !containsField(err.Error(), tt.field) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func containsField(msg, field string) bool {
	for i := 0; i+len(field)+1 <= len(msg); i++ {
		if msg[i:i+len(field)+1] == field+":" {
			return true
		}
	}
	return false
}

func TestStrategyFromMap(t *testing.T) {
	s, err := StrategyFromMap(map[string]any{"model": "v3", "sources": map[string]any{"trending": 0, "co_visitation": 1.5},
		"max_per_category": 2, "promoted_boost": 1.2})
	if err != nil {
		t.Fatal(err)
	}
	if s.Model != "v3" || s.Sources["co_visitation"] != 1.5 || s.Sources["trending"] != 0 || s.MaxPerCategory != 2 || s.PromotedBoost != 1.2 {
		t.Fatalf("got %+v", s)
	}
	if _, err := StrategyFromMap(map[string]any{"colour": "red"}); err == nil {
		t.Fatal("unknown key accepted")
	}
}
