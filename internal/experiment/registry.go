package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recohq/reco"
)

// Registry holds the experiments: those from the configuration file
// (read-only here: change them in reco.yaml) and those defined at runtime
// through the admin API, each persisted as <dir>/<id>.json. IDs are unique
// across both. All methods are safe for concurrent use; Set is lock-free.
type Registry struct {
	dir string

	mu      sync.Mutex
	config  []*Experiment
	runtime map[string]*Experiment
	set     atomic.Pointer[Set]
}

// OpenRegistry loads the runtime experiments from dir (created if missing)
// and merges them with the configured ones, which are validated too. A
// runtime experiment with the id of a configured one is an error.
func OpenRegistry(dir string, configured []*Experiment) (*Registry, error) {
	r := &Registry{dir: dir, runtime: map[string]*Experiment{}}
	var errs []error
	seen := map[string]bool{}
	for i, e := range configured {
		c := e.Clone()
		c.Normalize()
		if err := c.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("experiments[%d] (%s): %w", i, c.ID, err))
			continue
		}
		if seen[c.ID] {
			errs = append(errs, fmt.Errorf("experiments[%d]: id %q used twice", i, c.ID))
			continue
		}
		seen[c.ID] = true
		r.config = append(r.config, c)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open experiment registry: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("open experiment registry: %w", err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var e Experiment
		if err := json.Unmarshal(b, &e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		e.Normalize()
		if err := e.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if strings.TrimSuffix(filepath.Base(name), ".json") != e.ID {
			errs = append(errs, fmt.Errorf("%s: holds experiment %q", name, e.ID))
			continue
		}
		if seen[e.ID] {
			errs = append(errs, fmt.Errorf("%s: id %q is also in the configuration", name, e.ID))
			continue
		}
		r.runtime[e.ID] = &e
	}
	if len(errs) > 0 {
		return nil, reco.E("experiment.OpenRegistry", reco.Invalid, errors.Join(errs...))
	}
	r.publish()
	return r, nil
}

// publish rebuilds the Set; r.mu held (or r not yet shared).
func (r *Registry) publish() { r.set.Store(NewSet(r.all()...)) }

func (r *Registry) all() []*Experiment {
	out := append([]*Experiment(nil), r.config...)
	ids := make([]string, 0, len(r.runtime))
	for id := range r.runtime {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, r.runtime[id])
	}
	return out
}

// Set returns the current experiments for assignment: configured ones first
// in file order, then runtime ones by ID. It never blocks.
func (r *Registry) Set() *Set { return r.set.Load() }

// List returns copies of every experiment, in Set order.
func (r *Registry) List() []*Experiment {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := r.all()
	for i, e := range all {
		all[i] = e.Clone()
	}
	return all
}

// Get returns a copy of the experiment, or an error of kind reco.NotFound.
// configured says whether it comes from the configuration file.
func (r *Registry) Get(id string) (e *Experiment, configured bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.config {
		if c.ID == id {
			return c.Clone(), true, nil
		}
	}
	if e, ok := r.runtime[id]; ok {
		return e.Clone(), false, nil
	}
	return nil, false, reco.Errorf("experiment.Get", reco.NotFound, "no experiment %q", id)
}

// Create validates e (after Normalize; an empty status means draft here,
// so a new experiment can be checked before it runs), persists it and
// returns the stored copy. An existing id is an error of kind
// reco.Conflict; an invalid experiment one of kind reco.Invalid.
func (r *Registry) Create(e *Experiment) (*Experiment, error) {
	c := e.Clone()
	if c.Status == "" {
		c.Status = Draft
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exists(c.ID) {
		return nil, reco.Errorf("experiment.Create", reco.Conflict, "experiment %q exists", c.ID)
	}
	if err := r.write(c); err != nil {
		return nil, err
	}
	r.runtime[c.ID] = c
	r.publish()
	return c.Clone(), nil
}

func (r *Registry) exists(id string) bool {
	for _, c := range r.config {
		if c.ID == id {
			return true
		}
	}
	_, ok := r.runtime[id]
	return ok
}

// Patch is a partial update; nil fields are left alone.
//
// Any time: Coverage (raising it never moves a user between variants, it
// only takes in users who were outside; lowering it drops users from the
// test, who come back to the same variant if it is raised again), Stop,
// Forced (replaces the whole map) and Status, except that a running or
// stopped experiment cannot go back to draft.
//
// Only while draft: Variants (weights, names, strategies), Salt, Namespace
// and Start, because changing them reshuffles users or changes the treatment
// under a running test. Create a new experiment (new id or salt) instead.
type Patch struct {
	Coverage  *float64           `json:"coverage,omitempty"`
	Status    *string            `json:"status,omitempty"`
	Start     *time.Time         `json:"start,omitempty"`
	Stop      *time.Time         `json:"stop,omitempty"`
	Forced    *map[string]string `json:"forced,omitempty"`
	Variants  *[]Variant         `json:"variants,omitempty"`
	Salt      *string            `json:"salt,omitempty"`
	Namespace *Namespace         `json:"namespace,omitempty"`
}

// Patch applies p to a runtime experiment and persists it. Errors:
// reco.NotFound, reco.Conflict (a configured experiment, a draft-only field
// of a non-draft experiment, a transition back to draft), reco.Invalid.
func (r *Registry) Patch(id string, p Patch) (*Experiment, error) {
	const op = "experiment.Patch"
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.runtime[id]
	if !ok {
		for _, c := range r.config {
			if c.ID == id {
				return nil, reco.Errorf(op, reco.Conflict, "experiment %q is defined in the configuration file", id)
			}
		}
		return nil, reco.Errorf(op, reco.NotFound, "no experiment %q", id)
	}
	e := cur.Clone()
	var draftOnly []string
	if p.Variants != nil {
		draftOnly = append(draftOnly, "variants")
		e.Variants = *p.Variants
	}
	if p.Salt != nil {
		draftOnly = append(draftOnly, "salt")
		e.Salt = *p.Salt
	}
	if p.Namespace != nil {
		draftOnly = append(draftOnly, "namespace")
		e.Namespace = p.Namespace
	}
	if p.Start != nil {
		draftOnly = append(draftOnly, "start")
		e.Start = *p.Start
	}
	if len(draftOnly) > 0 && cur.Status != Draft {
		return nil, reco.Errorf(op, reco.Conflict, "%s can change only while the experiment is draft (it is %s)",
			strings.Join(draftOnly, ", "), cur.Status)
	}
	if p.Coverage != nil {
		e.Coverage = *p.Coverage
		if e.Coverage == 0 {
			return nil, reco.Errorf(op, reco.Invalid, "coverage: 0 is not in (0, 1]; stop the experiment instead")
		}
	}
	if p.Stop != nil {
		e.Stop = *p.Stop
	}
	if p.Forced != nil {
		e.Forced = *p.Forced
	}
	if p.Status != nil {
		if *p.Status == Draft && cur.Status != Draft {
			return nil, reco.Errorf(op, reco.Conflict, "status: a %s experiment cannot go back to draft", cur.Status)
		}
		e.Status = *p.Status
	}
	e.Normalize()
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if err := r.write(e); err != nil {
		return nil, err
	}
	r.runtime[id] = e
	r.publish()
	return e.Clone(), nil
}

// write persists e atomically: temp file, fsync, rename, fsync of the
// directory.
func (r *Registry) write(e *Experiment) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("write experiment %s: %w", e.ID, err)
	}
	final := filepath.Join(r.dir, e.ID+".json")
	f, err := os.CreateTemp(r.dir, "."+e.ID+".*.tmp")
	if err != nil {
		return fmt.Errorf("write experiment %s: %w", e.ID, err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write experiment %s: %w", e.ID, err)
	}
	if d, err := os.Open(r.dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("write experiment %s: sync dir: %w", e.ID, err)
		}
	}
	return nil
}
