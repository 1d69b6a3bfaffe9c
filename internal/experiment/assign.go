package experiment

import "time"

// Assignment is the outcome of assigning one user to one experiment.
type Assignment struct {
	Experiment string  `json:"id"`
	Variant    string  `json:"variant"`
	Index      int     `json:"-"` // index of Variant in the experiment
	Bucket     float64 `json:"-"` // the user's hash in [0, 1); -1 when forced
	// Forced is true when the variant came from Experiment.Forced (QA).
	// Forced users are not part of the test: the server should not log
	// their lists as exposures, and Results leaves them out regardless.
	Forced bool `json:"-"`
}

// Assign returns the user's variant of e at now, or false when the user is
// not in the experiment. See AssignDetail.
func Assign(e *Experiment, userID string, now time.Time) (variant string, ok bool) {
	a, ok := AssignDetail(e, userID, now)
	return a.Variant, ok
}

// AssignDetail assigns the user, in this order:
//
//  1. A forced variant (Experiment.Forced) wins unless the experiment is
//     stopped: QA can preview a draft.
//  2. Only a running experiment within [Start, Stop) assigns.
//  3. With a Namespace, only users for whom InNamespace holds.
//  4. The bucket is Hash(Salt, userID, 2); the variant is the range that
//     holds it (BucketRanges over the normalized weights and Coverage),
//     none outside coverage.
//
// Bucketing depends only on salt, user id, weights and coverage, so it is
// the same in every process and every GrowthBook SDK given the same seed.
// An empty user id is never assigned.
func AssignDetail(e *Experiment, userID string, now time.Time) (Assignment, bool) {
	if userID == "" || e.Status == Stopped {
		return Assignment{}, false
	}
	if v, ok := e.Forced[userID]; ok {
		for i := range e.Variants {
			if e.Variants[i].Name == v {
				return Assignment{Experiment: e.ID, Variant: v, Index: i, Bucket: -1, Forced: true}, true
			}
		}
	}
	if !e.Active(now) {
		return Assignment{}, false
	}
	if e.Namespace != nil && !InNamespace(userID, *e.Namespace) {
		return Assignment{}, false
	}
	salt := e.Salt
	if salt == "" {
		salt = e.ID
	}
	n, _ := Hash(salt, userID, 2)
	i := ChooseVariation(n, e.Ranges())
	if i < 0 {
		return Assignment{}, false
	}
	return Assignment{Experiment: e.ID, Variant: e.Variants[i].Name, Index: i, Bucket: n}, true
}

// Active reports whether e assigns at now: running (or empty status) and
// within [Start, Stop).
func (e *Experiment) Active(now time.Time) bool {
	if e.Status != Running && e.Status != "" {
		return false
	}
	if !e.Start.IsZero() && now.Before(e.Start) {
		return false
	}
	if !e.Stop.IsZero() && !now.Before(e.Stop) {
		return false
	}
	return true
}

// Set is an immutable list of experiments, in priority order. Build a new
// Set to change it; a Set is safe for concurrent use.
type Set struct {
	exps []*Experiment
}

// NewSet returns a Set of copies of the given experiments, normalized, in
// the given order, which is their priority (Registry.All gives config
// experiments first, in file order, then runtime ones by ID).
func NewSet(exps ...*Experiment) *Set {
	s := &Set{exps: make([]*Experiment, 0, len(exps))}
	for _, e := range exps {
		c := e.Clone()
		c.Normalize()
		s.exps = append(s.exps, c)
	}
	return s
}

// Experiments returns the experiments of the set (owned by the Set: do not
// modify them).
func (s *Set) Experiments() []*Experiment { return s.exps }

// Get returns the experiment with the given id.
func (s *Set) Get(id string) (*Experiment, bool) {
	for _, e := range s.exps {
		if e.ID == id {
			return e, true
		}
	}
	return nil, false
}

// AssignAll returns the user's assignment in every experiment of the set
// that takes them, in the set's order.
//
// Mutual exclusion comes from namespaces: experiments sharing a namespace ID
// with disjoint [Start, End) ranges never both take a user, because the
// namespace hash does not depend on the experiment. Experiments without a
// namespace, or in different namespaces, overlap freely.
//
// The rule for serving is Primary: the first of these.
func (s *Set) AssignAll(userID string, now time.Time) []Assignment {
	var out []Assignment
	for _, e := range s.exps {
		if a, ok := AssignDetail(e, userID, now); ok {
			out = append(out, a)
		}
	}
	return out
}

// Primary returns the assignment a recommend request serves: the first
// assignment of AssignAll (the set's order), so that a user in
// two overlapping experiments is consistently served, and logged under,
// the same one. Define overlapping experiments in one namespace to avoid
// the second experiment losing those users.
func (s *Set) Primary(userID string, now time.Time) (Assignment, bool) {
	for _, e := range s.exps {
		if a, ok := AssignDetail(e, userID, now); ok {
			return a, true
		}
	}
	return Assignment{}, false
}
