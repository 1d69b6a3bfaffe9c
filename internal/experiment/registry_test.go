package experiment

import (
	"errors"
	"testing"
	"time"

	"github.com/recohq/reco"
)

func ptr[T any](v T) *T { return &v }

func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	conf := []*Experiment{{ID: "from-yaml", Variants: []Variant{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}}}}
	r, err := OpenRegistry(dir, conf)
	if err != nil {
		t.Fatal(err)
	}
	e := &Experiment{ID: "rt", Variants: []Variant{{Name: "control", Weight: 1, Strategy: Strategy{PopularOnly: true}},
		{Name: "model", Weight: 1, Strategy: Strategy{Model: "v7"}}}}
	got, err := r.Create(e)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Draft || got.Salt != "rt" || got.Coverage != 1 {
		t.Fatalf("created %+v", got)
	}
	kind := func(err error) reco.Kind { return reco.KindOf(err) }
	if _, err := r.Create(e); kind(err) != reco.Conflict {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := r.Create(&Experiment{ID: "from-yaml", Variants: e.Variants}); kind(err) != reco.Conflict {
		t.Fatalf("config id: %v", err)
	}
	if _, err := r.Create(&Experiment{ID: "bad id", Variants: e.Variants}); kind(err) != reco.Invalid {
		t.Fatalf("invalid: %v", err)
	}
	// Draft: weights may change.
	if _, err := r.Patch("rt", Patch{Variants: &[]Variant{{Name: "control", Weight: 1, Strategy: Strategy{PopularOnly: true}},
		{Name: "model", Weight: 3, Strategy: Strategy{Model: "v7"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Patch("rt", Patch{Status: ptr(Running)}); err != nil {
		t.Fatal(err)
	}
	// Running: weights may not; coverage, forced and stop may.
	if _, err := r.Patch("rt", Patch{Variants: &[]Variant{{Name: "control", Weight: 1}, {Name: "model", Weight: 1}}}); kind(err) != reco.Conflict {
		t.Fatalf("weights while running: %v", err)
	}
	if _, err := r.Patch("rt", Patch{Status: ptr(Draft)}); kind(err) != reco.Conflict {
		t.Fatalf("back to draft: %v", err)
	}
	if _, err := r.Patch("rt", Patch{Coverage: ptr(1.5)}); kind(err) != reco.Invalid {
		t.Fatalf("coverage 1.5: %v", err)
	}
	stop := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := r.Patch("rt", Patch{Coverage: ptr(0.5), Forced: &map[string]string{"qa": "model"}, Stop: &stop}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Patch("from-yaml", Patch{Coverage: ptr(0.5)}); kind(err) != reco.Conflict {
		t.Fatalf("patch config: %v", err)
	}
	if _, err := r.Patch("nope", Patch{}); kind(err) != reco.NotFound {
		t.Fatalf("patch missing: %v", err)
	}
	if a, ok := r.Set().Primary("qa", time.Now()); !ok || a.Experiment != "from-yaml" {
		t.Fatalf("primary %+v: the configured experiment comes first", a)
	}
	if v, ok := Assign(mustGet(t, r, "rt"), "qa", time.Now()); !ok || v != "model" {
		t.Fatalf("forced %q %v", v, ok)
	}

	// Reopen: the runtime experiment is back as it was.
	r2, err := OpenRegistry(dir, conf)
	if err != nil {
		t.Fatal(err)
	}
	e2 := mustGet(t, r2, "rt")
	if e2.Coverage != 0.5 || e2.Status != Running || !e2.Stop.Equal(stop) || e2.Variants[1].Weight != 3 ||
		e2.Variants[1].Strategy.Model != "v7" || !e2.Variants[0].Strategy.PopularOnly || e2.Forced["qa"] != "model" {
		t.Fatalf("reopened %+v", e2)
	}
	if ids := len(r2.List()); ids != 2 {
		t.Fatalf("%d experiments", ids)
	}
	if _, _, err := r2.Get("nope"); !errors.Is(err, err) || kind(err) != reco.NotFound {
		t.Fatalf("get missing: %v", err)
	}
	// A configured experiment taking a runtime id is an error.
	if _, err := OpenRegistry(dir, append(conf, &Experiment{ID: "rt", Variants: e.Variants})); err == nil {
		t.Fatal("id clash accepted")
	}
}

func mustGet(t *testing.T, r *Registry, id string) *Experiment {
	t.Helper()
	e, _, err := r.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
