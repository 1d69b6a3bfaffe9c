// Package registry keeps trained model versions in the data directory with
// their metadata (parameters, data window, metrics, feature schema), and
// which of them serve: the current version, the previous one (for rollback
// and as a fallback), and an optional canary for a percentage of users.
//
// Layout: models/<version>/model.json (XGBoost's JSON format) and
// meta.json; models/serving.json. Every file is written to a temporary name,
// fsynced and renamed, so a crash never leaves a half-written version.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/rank/gbdt"
)

// Meta describes one model version.
type Meta struct {
	Version      string             `json:"version"`
	Created      time.Time          `json:"created"`
	Source       string             `json:"source"` // "train" or "import"
	Objective    string             `json:"objective"`
	Params       map[string]any     `json:"params,omitempty"`
	DataFrom     time.Time          `json:"data_from,omitzero"`
	DataTo       time.Time          `json:"data_to,omitzero"`
	TrainRows    int                `json:"train_rows,omitempty"`
	ValidRows    int                `json:"valid_rows,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	SchemaHash   string             `json:"schema_hash"`
	FeatureNames []string           `json:"feature_names"`
	Trees        int                `json:"trees"`
}

// Serving says which versions serve.
type Serving struct {
	Current  string    `json:"current,omitempty"`
	Previous string    `json:"previous,omitempty"`
	Canary   *Canary   `json:"canary,omitempty"`
	Updated  time.Time `json:"updated,omitzero"`
}

// Canary serves Version to Percent of users (by a hash of the user id).
type Canary struct {
	Version string  `json:"version"`
	Percent float64 `json:"percent"`
}

// Registry is the models directory. Safe for concurrent use within one
// process.
type Registry struct {
	dir string
	mu  sync.Mutex
}

// Open opens (creating) the registry under dir.
func Open(dir string) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open model registry: %w", err)
	}
	return &Registry{dir: dir}, nil
}

// Dir is the registry's directory.
func (r *Registry) Dir() string { return r.dir }

var versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// NewVersion returns an unused version name based on the time.
func (r *Registry) NewVersion(prefix string, now time.Time) string {
	base := prefix + "-" + now.UTC().Format("20060102-150405")
	v := base
	for i := 2; ; i++ {
		if _, err := os.Stat(filepath.Join(r.dir, v)); errors.Is(err, os.ErrNotExist) {
			return v
		}
		v = fmt.Sprintf("%s-%d", base, i)
	}
}

// Register stores a model under meta.Version, with extra files that go
// with it (such as the similar-items table its candidates came from), and
// returns the metadata as stored (with Trees and Objective filled). It does
// not promote it.
func (r *Registry) Register(m *gbdt.Model, meta Meta, extras map[string][]byte) (Meta, error) {
	const op = "registry.Register"
	if !versionRE.MatchString(meta.Version) {
		return meta, reco.Errorf(op, reco.Invalid, "bad version name %q", meta.Version)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	dir := filepath.Join(r.dir, meta.Version)
	if _, err := os.Stat(dir); err == nil {
		return meta, reco.Errorf(op, reco.Conflict, "version %s exists", meta.Version)
	}
	tmp, err := os.MkdirTemp(r.dir, ".tmp-"+meta.Version+"-")
	if err != nil {
		return meta, fmt.Errorf("register %s: %w", meta.Version, err)
	}
	defer os.RemoveAll(tmp)
	if err := m.SaveFile(filepath.Join(tmp, "model.json")); err != nil {
		return meta, fmt.Errorf("register %s: %w", meta.Version, err)
	}
	for name, b := range extras {
		if !versionRE.MatchString(name) || name == "model.json" || name == "meta.json" {
			return meta, reco.Errorf(op, reco.Invalid, "bad extra file name %q", name)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return meta, fmt.Errorf("register %s: %w", meta.Version, err)
		}
	}
	meta.Trees = m.NumTrees()
	meta.Objective = string(m.Objective())
	if err := writeJSON(filepath.Join(tmp, "meta.json"), meta); err != nil {
		return meta, fmt.Errorf("register %s: %w", meta.Version, err)
	}
	if err := syncDir(tmp); err != nil {
		return meta, fmt.Errorf("register %s: %w", meta.Version, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return meta, fmt.Errorf("register %s: %w", meta.Version, err)
	}
	return meta, syncDir(r.dir)
}

// Load reads a version's model and metadata.
func (r *Registry) Load(version string) (*gbdt.Model, Meta, error) {
	const op = "registry.Load"
	if !versionRE.MatchString(version) {
		return nil, Meta{}, reco.Errorf(op, reco.Invalid, "bad version name %q", version)
	}
	dir := filepath.Join(r.dir, version)
	var meta Meta
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, Meta{}, reco.Errorf(op, reco.NotFound, "no model version %s", version)
	}
	if err != nil {
		return nil, Meta{}, fmt.Errorf("load model %s: %w", version, err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, Meta{}, fmt.Errorf("load model %s: meta.json: %w", version, err)
	}
	m, err := gbdt.LoadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		return nil, Meta{}, reco.E(op, reco.Invalid, fmt.Errorf("load model %s: %w", version, err))
	}
	return m, meta, nil
}

// Extra reads an extra file of a version; os.ErrNotExist when it has none.
func (r *Registry) Extra(version, name string) ([]byte, error) {
	if !versionRE.MatchString(version) || !versionRE.MatchString(name) {
		return nil, reco.Errorf("registry.Extra", reco.Invalid, "bad name %q/%q", version, name)
	}
	return os.ReadFile(filepath.Join(r.dir, version, name))
}

// List returns every version's metadata, newest first.
func (r *Registry) List() ([]Meta, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	var out []Meta
	for _, e := range ents {
		if !e.IsDir() || !versionRE.MatchString(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.dir, e.Name(), "meta.json"))
		if err != nil {
			continue
		}
		var m Meta
		if json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].Version > out[j].Version
	})
	return out, nil
}

// Serving reads which versions serve (empty when none was ever promoted).
func (r *Registry) Serving() (Serving, error) {
	var s Serving
	b, err := os.ReadFile(filepath.Join(r.dir, "serving.json"))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read serving state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read serving state: %w", err)
	}
	return s, nil
}

// SetServing replaces the serving state. Callers validate the versions
// first (see Promote).
func (r *Registry) SetServing(s Serving) error {
	s.Updated = time.Now().UTC()
	if err := writeJSON(filepath.Join(r.dir, "serving.json"), s); err != nil {
		return fmt.Errorf("write serving state: %w", err)
	}
	return nil
}

// Promote makes version serve: for every user (percent 0 or 100: blue/green,
// the current version becomes the previous one), or as a canary for percent
// of users. The version must exist; validation of the model is the caller's.
func (r *Registry) Promote(version string, percent float64) (Serving, error) {
	const op = "registry.Promote"
	if _, _, err := r.Load(version); err != nil {
		return Serving{}, err
	}
	if percent < 0 || percent > 100 {
		return Serving{}, reco.Errorf(op, reco.Invalid, "percent %v not in 0..100", percent)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.Serving()
	if err != nil {
		return s, err
	}
	if percent > 0 && percent < 100 {
		s.Canary = &Canary{Version: version, Percent: percent}
	} else {
		if s.Current != version {
			s.Previous = s.Current
		}
		s.Current = version
		s.Canary = nil
	}
	return s, r.SetServing(s)
}

// Rollback serves the previous version again and drops any canary.
func (r *Registry) Rollback() (Serving, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.Serving()
	if err != nil {
		return s, err
	}
	if s.Canary != nil {
		s.Canary = nil
		return s, r.SetServing(s)
	}
	if s.Previous == "" {
		return s, reco.Errorf("registry.Rollback", reco.Conflict, "no previous version to roll back to")
	}
	s.Current, s.Previous = s.Previous, s.Current
	return s, r.SetServing(s)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
