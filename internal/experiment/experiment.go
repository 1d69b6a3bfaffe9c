package experiment

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"time"

	"github.com/recohq/reco"
)

// The experiment statuses.
const (
	Draft   = "draft"   // defined, not assigning (forced users still get their variant)
	Running = "running" // assigning between Start and Stop
	Stopped = "stopped" // never assigns; results stay readable
)

// Experiment is one A/B test. Its zero Salt means the ID, zero Coverage
// means 1 and zero Status means running (see Normalize). Times are
// inclusive Start, exclusive Stop; zero means open.
type Experiment struct {
	ID        string            `json:"id" yaml:"id"`
	Salt      string            `json:"salt,omitempty" yaml:"salt"`
	Coverage  float64           `json:"coverage,omitempty" yaml:"coverage"`
	Variants  []Variant         `json:"variants" yaml:"variants"`
	Namespace *Namespace        `json:"namespace,omitempty" yaml:"namespace"`
	Start     time.Time         `json:"start,omitzero" yaml:"start"`
	Stop      time.Time         `json:"stop,omitzero" yaml:"stop"`
	Forced    map[string]string `json:"forced,omitempty" yaml:"forced"` // user id -> variant name (QA)
	Status    string            `json:"status,omitempty" yaml:"status"`
}

// Variant is one arm. The first variant of an experiment is its control.
// Weights are relative (50/50 and 0.5/0.5 are the same split).
type Variant struct {
	Name     string   `json:"name" yaml:"name"`
	Weight   float64  `json:"weight" yaml:"weight"`
	Strategy Strategy `json:"strategy" yaml:"strategy"`
}

// Namespace is a slice [Start, End) of a named hash space. Experiments in
// the same namespace ID with disjoint ranges never share a user.
type Namespace struct {
	ID    string  `json:"id" yaml:"id"`
	Start float64 `json:"start" yaml:"start"`
	End   float64 `json:"end" yaml:"end"`
}

// Strategy is what a variant changes in serving: configuration, never code.
// Zero values mean "as the server is configured".
type Strategy struct {
	// Model is a model version, "rules" for the rule-based ranker, or "" for
	// the serving model.
	Model string `json:"model,omitempty" yaml:"model"`
	// PopularOnly serves popular items only (the usual control).
	PopularOnly bool `json:"popular_only,omitempty" yaml:"popular_only"`
	// Sources multiplies each candidate source's weight by name, e.g.
	// {"co_visitation": 1, "trending": 0}; a source not named keeps 1.
	Sources map[string]float64 `json:"sources,omitempty" yaml:"sources"`
	// MaxPerCategory is the diversity cap: 0 = the server's, < 0 = none.
	MaxPerCategory int `json:"max_per_category,omitempty" yaml:"max_per_category"`
	// PromotedBoost is the score multiplier of promoted products: 0 = the
	// server's.
	PromotedBoost float64 `json:"promoted_boost,omitempty" yaml:"promoted_boost"`
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidID reports whether id can name an experiment (and a file).
func ValidID(id string) bool { return idRE.MatchString(id) }

// Normalize fills the defaults in place: Salt = ID, Coverage = 1,
// Status = running.
func (e *Experiment) Normalize() {
	if e.Salt == "" {
		e.Salt = e.ID
	}
	if e.Coverage == 0 {
		e.Coverage = 1
	}
	if e.Status == "" {
		e.Status = Running
	}
}

// Validate reports every problem with e, each naming its field, as an
// error of kind reco.Invalid. Call Normalize first.
func (e *Experiment) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !ValidID(e.ID) {
		bad("id", "%q does not match ^[A-Za-z0-9_.-]{1,64}$", e.ID)
	}
	if !(e.Coverage > 0 && e.Coverage <= 1) {
		bad("coverage", "%v is not in (0, 1]", e.Coverage)
	}
	switch e.Status {
	case Draft, Running, Stopped:
	default:
		bad("status", "%q is not one of draft, running, stopped", e.Status)
	}
	if len(e.Variants) < 2 {
		bad("variants", "needs at least two variants, has %d", len(e.Variants))
	}
	seen := map[string]bool{}
	total := 0.0
	for i, v := range e.Variants {
		f := fmt.Sprintf("variants[%d]", i)
		if v.Name == "" {
			bad(f+".name", "required")
		} else if seen[v.Name] {
			bad(f+".name", "%q is used twice", v.Name)
		}
		seen[v.Name] = true
		if !(v.Weight >= 0) || math.IsInf(v.Weight, 0) {
			bad(f+".weight", "%v is not a finite number >= 0", v.Weight)
		} else {
			total += v.Weight
		}
		s := v.Strategy
		for name, w := range s.Sources {
			if !(w >= 0) || math.IsInf(w, 0) {
				bad(f+".strategy.sources."+name, "%v is not a finite number >= 0", w)
			}
		}
		if !(s.PromotedBoost >= 0) || math.IsInf(s.PromotedBoost, 0) {
			bad(f+".strategy.promoted_boost", "%v is not a finite number >= 0", s.PromotedBoost)
		}
		if s.PopularOnly && s.Model != "" {
			bad(f+".strategy", "popular_only and model are exclusive")
		}
	}
	if len(e.Variants) > 0 && !(total > 0) {
		bad("variants.weight", "weights sum to %v, want > 0", total)
	}
	if ns := e.Namespace; ns != nil {
		if ns.ID == "" {
			bad("namespace.id", "required")
		}
		if !(ns.Start >= 0 && ns.Start < ns.End && ns.End <= 1) {
			bad("namespace", "range [%v, %v) is not a non-empty range within [0, 1]", ns.Start, ns.End)
		}
	}
	if !e.Start.IsZero() && !e.Stop.IsZero() && !e.Stop.After(e.Start) {
		bad("stop", "%v is not after start %v", e.Stop, e.Start)
	}
	users := make([]string, 0, len(e.Forced))
	for u := range e.Forced {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		if !seen[e.Forced[u]] {
			bad("forced."+u, "%q is not a variant", e.Forced[u])
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return reco.E("experiment.Validate", reco.Invalid, errors.Join(errs...))
}

// Weights returns the variant weights normalized to sum to 1.
func (e *Experiment) Weights() []float64 {
	total := 0.0
	for _, v := range e.Variants {
		total += v.Weight
	}
	w := make([]float64, len(e.Variants))
	for i, v := range e.Variants {
		if total > 0 {
			w[i] = v.Weight / total
		}
	}
	return w
}

// Ranges returns the experiment's bucket ranges (see BucketRanges).
func (e *Experiment) Ranges() []Range {
	cov := e.Coverage
	if cov == 0 {
		cov = 1
	}
	return BucketRanges(len(e.Variants), cov, e.Weights())
}

// Variant returns the variant named name.
func (e *Experiment) Variant(name string) (Variant, bool) {
	for _, v := range e.Variants {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}

// Clone returns a deep copy of e.
func (e *Experiment) Clone() *Experiment {
	c := *e
	c.Variants = make([]Variant, len(e.Variants))
	for i, v := range e.Variants {
		if v.Strategy.Sources != nil {
			src := make(map[string]float64, len(v.Strategy.Sources))
			for k, w := range v.Strategy.Sources {
				src[k] = w
			}
			v.Strategy.Sources = src
		}
		c.Variants[i] = v
	}
	if e.Namespace != nil {
		ns := *e.Namespace
		c.Namespace = &ns
	}
	if e.Forced != nil {
		c.Forced = make(map[string]string, len(e.Forced))
		for k, v := range e.Forced {
			c.Forced[k] = v
		}
	}
	return &c
}

// StrategyFromMap converts the untyped strategy of config.Variant
// (map[string]any from YAML) into a Strategy; unknown keys are errors.
func StrategyFromMap(m map[string]any) (Strategy, error) {
	var s Strategy
	var errs []error
	num := func(k string, v any) float64 {
		switch x := v.(type) {
		case int:
			return float64(x)
		case int64:
			return float64(x)
		case uint64:
			return float64(x)
		case float64:
			return x
		}
		errs = append(errs, fmt.Errorf("%s: %v is not a number", k, v))
		return 0
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		switch k {
		case "model":
			str, ok := v.(string)
			if !ok {
				errs = append(errs, fmt.Errorf("model: %v is not a string", v))
			}
			s.Model = str
		case "popular_only":
			b, ok := v.(bool)
			if !ok {
				errs = append(errs, fmt.Errorf("popular_only: %v is not a boolean", v))
			}
			s.PopularOnly = b
		case "max_per_category":
			f := num(k, v)
			if f != math.Trunc(f) {
				errs = append(errs, fmt.Errorf("max_per_category: %v is not an integer", v))
			}
			s.MaxPerCategory = int(f)
		case "promoted_boost":
			s.PromotedBoost = num(k, v)
		case "sources":
			mm, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("sources: not a map of source name to weight"))
				continue
			}
			s.Sources = make(map[string]float64, len(mm))
			for name, w := range mm {
				s.Sources[name] = num("sources."+name, w)
			}
		default:
			errs = append(errs, fmt.Errorf("%s: unknown strategy key", k))
		}
	}
	if len(errs) > 0 {
		return s, reco.E("experiment.StrategyFromMap", reco.Invalid, errors.Join(errs...))
	}
	return s, nil
}
