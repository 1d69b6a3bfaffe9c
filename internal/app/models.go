package app

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recohq/reco/internal/config"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/rank"
	"github.com/recohq/reco/internal/rank/gbdt"
	"github.com/recohq/reco/internal/registry"
	"github.com/recohq/reco/internal/train"
)

// models is the set of model versions serving now; swapped atomically.
type models struct {
	state    registry.Serving
	similar  candidate.SimilarTable // the current version's similar items, or nil
	current  *rank.Model
	previous *rank.Model
	canary   *rank.Model
	pct      float64
}

// modelManager loads, validates, hot-reloads and promotes model versions.
type modelManager struct {
	a       *App
	reg     *registry.Registry
	cur     atomic.Pointer[models]
	mu      sync.Mutex // serialises loads and promotions
	loaded  map[string]*rank.Model
	trainMu sync.Mutex
	status  atomic.Pointer[TrainStatus]
}

// TrainStatus is the state of the latest training run.
type TrainStatus struct {
	Running  bool               `json:"running"`
	Started  time.Time          `json:"started,omitzero"`
	Finished time.Time          `json:"finished,omitzero"`
	Version  string             `json:"version,omitempty"`
	Promoted bool               `json:"promoted"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	Error    string             `json:"error,omitempty"`
}

func newModelManager(a *App) (*modelManager, error) {
	reg, err := registry.Open(filepath.Join(a.Config.DataDir, "models"))
	if err != nil {
		return nil, err
	}
	mm := &modelManager{a: a, reg: reg, loaded: map[string]*rank.Model{}}
	mm.cur.Store(&models{})
	mm.status.Store(&TrainStatus{})
	if err := mm.reload(); err != nil {
		a.Logger.Error("model serving state not loaded; ranking with rules", "err", err)
	}
	return mm, nil
}

// probe returns rows to validate a model on: synthetic rows spanning the
// features' usual ranges, with some values missing.
func probe() []float32 {
	rng := rand.New(rand.NewPCG(42, 42))
	rows := 64
	out := make([]float32, rows*rank.NumFeatures)
	for i := range out {
		switch r := rng.Float64(); {
		case r < 0.1:
			out[i] = float32(math.NaN())
		case r < 0.4:
			out[i] = float32(rng.Float64())
		case r < 0.7:
			out[i] = float32(rng.IntN(50))
		default:
			out[i] = float32(rng.Float64() * 500)
		}
	}
	return out
}

// load returns a validated ranker for a version (cached).
func (mm *modelManager) load(version string) (*rank.Model, error) {
	if m, ok := mm.loaded[version]; ok {
		return m, nil
	}
	g, meta, err := mm.reg.Load(version)
	if err != nil {
		return nil, err
	}
	if meta.SchemaHash != "" && meta.SchemaHash != rank.SchemaHash() && len(g.FeatureNames()) == 0 {
		return nil, reco.Errorf("models.load", reco.Invalid, "model %s was trained on feature schema %s, serving builds %s", version, meta.SchemaHash, rank.SchemaHash())
	}
	if err := rank.Validate(g, probe()); err != nil {
		return nil, reco.E("models.load", reco.Invalid, fmt.Errorf("model %s refused: %w", version, err))
	}
	m := &rank.Model{M: g, V: version}
	mm.loaded[version] = m
	return m, nil
}

// reload reads the serving state and loads its versions. A version that
// fails to load leaves the serving set as it was.
func (mm *modelManager) reload() error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	st, err := mm.reg.Serving()
	if err != nil {
		return err
	}
	old := mm.cur.Load()
	if old.state.Current == st.Current && old.state.Previous == st.Previous && equalCanary(old.state.Canary, st.Canary) {
		return nil
	}
	next := &models{state: st}
	var errs []error
	if st.Current != "" {
		if next.current, err = mm.load(st.Current); err != nil {
			errs = append(errs, err)
		}
	}
	if st.Previous != "" {
		if next.previous, err = mm.load(st.Previous); err != nil {
			mm.a.Logger.Warn("previous model version unusable; no model fallback", "version", st.Previous, "err", err)
		}
	}
	if st.Canary != nil {
		if next.canary, err = mm.load(st.Canary.Version); err != nil {
			errs = append(errs, err)
		}
		next.pct = st.Canary.Percent
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if st.Current != "" {
		if b, err := mm.reg.Extra(st.Current, train.SimilarFile); err == nil {
			if next.similar, err = candidate.DecodeSimilarTable(b); err != nil {
				mm.a.Logger.Warn("similar-items table unreadable; serving without it", "version", st.Current, "err", err)
			}
		}
	}
	mm.cur.Store(next)
	mm.a.Logger.Info("model serving state loaded", "current", st.Current, "previous", st.Previous, "canary", fmt.Sprint(st.Canary))
	return nil
}

func equalCanary(a, b *registry.Canary) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// For returns the rankers to try for a user, in order: the canary or the
// current version, then the previous one. Empty means rules.
func (mm *modelManager) For(userID string) []rank.Ranker {
	m := mm.cur.Load()
	var out []rank.Ranker
	if m.canary != nil && userBucket(userID) < m.pct {
		out = append(out, m.canary)
	}
	if m.current != nil {
		out = append(out, m.current)
	}
	if m.previous != nil {
		out = append(out, m.previous)
	}
	return out
}

// userBucket maps a user to [0, 100) for canary assignment.
func userBucket(userID string) float64 {
	h := fnv.New32a()
	h.Write([]byte("canary:" + userID))
	return float64(h.Sum32()%10000) / 100
}

// Promote validates version and makes it serve (percent 0 or 100: for
// everyone; else as a canary).
func (mm *modelManager) Promote(version string, percent float64) (registry.Serving, error) {
	mm.mu.Lock()
	_, err := mm.load(version)
	mm.mu.Unlock()
	if err != nil {
		return registry.Serving{}, err
	}
	st, err := mm.reg.Promote(version, percent)
	if err != nil {
		return st, err
	}
	return st, mm.reload()
}

// Rollback serves the previous version again.
func (mm *modelManager) Rollback() (registry.Serving, error) {
	st, err := mm.reg.Rollback()
	if err != nil {
		return st, err
	}
	return st, mm.reload()
}

// watch reloads the serving state when another process changes it.
func (mm *modelManager) watch(ctx context.Context) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := mm.reload(); err != nil {
				mm.a.Logger.Error("model reload refused; the serving version stays", "err", err)
			}
		}
	}
}

// Train runs one training over this process's log and registers a version;
// with promote, it serves it when its evaluation is not worse than the
// current version's (AUC within 0.005).
func (mm *modelManager) Train(ctx context.Context, promote bool) (*train.Result, error) {
	if !mm.trainMu.TryLock() {
		return nil, reco.Errorf("models.Train", reco.Conflict, "a training run is already in progress")
	}
	defer mm.trainMu.Unlock()
	st := &TrainStatus{Running: true, Started: time.Now().UTC()}
	mm.status.Store(st)
	res, err := train.Run(ctx, mm.trainOptions())
	done := &TrainStatus{Started: st.Started, Finished: time.Now().UTC()}
	if err != nil {
		done.Error = err.Error()
		mm.status.Store(done)
		return nil, err
	}
	done.Version, done.Metrics = res.Meta.Version, res.Meta.Metrics
	if promote && mm.better(res.Meta) {
		if _, err := mm.Promote(res.Meta.Version, 100); err != nil {
			done.Error = "promote: " + err.Error()
		} else {
			done.Promoted = true
		}
	}
	mm.status.Store(done)
	return res, nil
}

// trainOptions translates the train section of the configuration.
func (mm *modelManager) trainOptions() train.Options {
	c := mm.a.Config.Train
	lw := train.LabelWeights{Click: float32(c.LabelWeights["click"]), AddToCart: float32(c.LabelWeights["add_to_cart"]),
		Purchase: float32(c.LabelWeights["purchase"])}
	var similar *candidate.SimilarOptions
	if c.SimilarItems {
		similar = &candidate.SimilarOptions{}
	}
	return train.Options{
		Scan: mm.a.ScanHistory, Registry: mm.reg, Features: mm.a.features,
		Similar: similar, RepeatPurchase: mm.a.Config.Recommend.RepeatPurchase,
		// Leak-free similar-items scores in the training queries (EVALUATION.md).
		HistorySpan: 90 * 24 * time.Hour, SimilarEvery: 30 * 24 * time.Hour,
		Params: gbdt.Params{Objective: gbdt.Objective(c.Objective), Rounds: c.Rounds, MaxDepth: c.MaxDepth, Eta: c.Eta},
		Window: c.AttributionWindow.D(), Labels: lw,
		Log: func(format string, args ...any) { mm.a.Logger.Info("train: " + fmt.Sprintf(format, args...)) },
	}
}

// Export writes the training set as Parquet under dir (training at scale).
func (mm *modelManager) Export(ctx context.Context, dir string) (rows, queries int, source string, err error) {
	qs, source, err := train.Queries(ctx, mm.trainOptions())
	if err != nil {
		return 0, 0, "", err
	}
	rows, err = train.Export(ctx, dir, qs, 0.2)
	return rows, len(qs), source, err
}

func (mm *modelManager) better(meta registry.Meta) bool {
	cur := mm.cur.Load().state.Current
	if cur == "" {
		return true
	}
	_, cm, err := mm.reg.Load(cur)
	if err != nil {
		return true
	}
	return meta.Metrics["auc"] >= cm.Metrics["auc"]-0.005
}

// schedule retrains (and promotes) on the cron schedule in train.schedule.
func (mm *modelManager) schedule(ctx context.Context, spec string) error {
	sched, err := config.ParseSchedule(spec)
	if err != nil {
		return fmt.Errorf("train.schedule: %w", err)
	}
	for {
		next := sched.Next(time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(next)):
		}
		if _, err := mm.Train(ctx, true); err != nil && ctx.Err() == nil {
			mm.a.Logger.Error("scheduled training", "err", err)
		}
	}
}

// ScanHistory reads the whole history: the events that retention already
// deleted from the log, from the offline store's raw-event archive, then
// every record the log retains (ScanLog). So training reaches back past
// the log's retention. Where the archive and the log meet, a partition's
// archived event counts if it was ingested before the first event the log
// still holds for that partition, or in the same millisecond but not among
// the log's events of that millisecond (a batch that a segment boundary
// split).
func (a *App) ScanHistory(fn func(r *event.Record) error) error {
	n := a.bus.Partitions()
	type boundary struct {
		cut    int64          // Ingested of the first retained event
		inLog  map[string]int // the log's events ingested at cut
		allOld bool           // nothing retained: every archived event counts
	}
	cuts := map[int]*boundary{}
	for p := 0; p < n; p++ {
		start, end := a.bus.StartOffset(p), a.bus.EndOffset(p)
		if start == 0 {
			continue
		}
		b := &boundary{allOld: true, inLog: map[string]int{}}
		cuts[p] = b
		if start >= end {
			continue
		}
		r, err := a.bus.NewReader(p, start)
		if err != nil {
			return err
		}
		for off := start; off < end; off++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, data, err := r.Next(ctx)
			cancel()
			if err != nil {
				r.Close()
				return fmt.Errorf("scan history: partition %d: %w", p, err)
			}
			var rec event.Record
			if event.Decode(data, &rec) != nil || rec.Kind != event.KindEvent {
				continue
			}
			if b.allOld {
				b.allOld, b.cut = false, rec.Event.Ingested
			} else if rec.Event.Ingested != b.cut {
				break
			}
			b.inLog[historyKey(&rec.Event)]++
		}
		r.Close()
	}
	if len(cuts) > 0 && a.Offline != nil {
		var rec event.Record
		archived := 0
		err := a.Offline.ScanEvents(context.Background(), offline.EventsSet, math.MinInt64, math.MaxInt64, func(_ string, evs []event.Event) error {
			for i := range evs {
				e := &evs[i]
				b, ok := cuts[partitionOf(e.UserID, n)]
				switch {
				case !ok:
					continue
				case b.allOld || e.Ingested < b.cut:
				case e.Ingested == b.cut:
					if k := historyKey(e); b.inLog[k] > 0 {
						b.inLog[k]--
						continue
					}
				default:
					continue
				}
				rec = event.Record{Kind: event.KindEvent, Event: *e}
				if err := fn(&rec); err != nil {
					return err
				}
				archived++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("scan history: the raw-event archive: %w", err)
		}
		a.Logger.Info("history: events from the offline archive, older than the log's retention", "events", archived)
	}
	return a.ScanLog(fn)
}

// historyKey identifies an event among those of one ingest millisecond.
func historyKey(e *event.Event) string {
	return fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%s\x00%s", e.UserID, e.ProductID, e.Type, e.Time, e.SessionID, e.SourceKey)
}

// ScanLog reads every retained record of the log, partition by partition,
// up to where each partition ended when the scan reached it.
func (a *App) ScanLog(fn func(r *event.Record) error) error {
	var rec event.Record
	for p := 0; p < a.bus.Partitions(); p++ {
		start, end := a.bus.StartOffset(p), a.bus.EndOffset(p)
		if start >= end {
			continue
		}
		r, err := a.bus.NewReader(p, start)
		if err != nil {
			return err
		}
		err = func() error {
			defer r.Close()
			for {
				// A Kafka reader fetches in the background: wait for each
				// record, but not forever if the brokers go away.
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				off, data, err := r.Next(ctx)
				cancel()
				if err != nil {
					return fmt.Errorf("scan partition %d at offset %d of %d: %w", p, off, end, err)
				}
				if event.Decode(data, &rec) == nil {
					if err := fn(&rec); err != nil {
						return err
					}
				}
				if off+1 >= end {
					return nil
				}
			}
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// modelAdmin serves the model endpoints.
type modelAdmin struct{ mm *modelManager }

func (m modelAdmin) Models() (any, error) {
	versions, err := m.mm.reg.List()
	if err != nil {
		return nil, err
	}
	if versions == nil {
		versions = []registry.Meta{}
	}
	cur := m.mm.cur.Load()
	return map[string]any{"serving": cur.state, "versions": versions, "training": m.mm.status.Load(),
		"fallback": rank.RulesVersion}, nil
}

func (m modelAdmin) Promote(version string, percent float64) (any, error) {
	return m.mm.Promote(version, percent)
}

func (m modelAdmin) Rollback() (any, error) { return m.mm.Rollback() }

func (m modelAdmin) StartTraining(ctx context.Context, promote bool) (any, error) {
	if st := m.mm.status.Load(); st.Running {
		return nil, reco.Errorf("models.StartTraining", reco.Conflict, "a training run is already in progress")
	}
	go func() {
		if _, err := m.mm.Train(ctx, promote); err != nil {
			m.mm.a.Logger.Error("training", "err", err)
		}
	}()
	return map[string]any{"status": "started", "promote": promote}, nil
}

// Registry is the model registry.
func (mm *modelManager) Registry() *registry.Registry { return mm.reg }

// Serving is the serving state in effect.
func (mm *modelManager) Serving() (registry.Serving, error) { return mm.cur.Load().state, nil }

// Import registers an XGBoost JSON model trained elsewhere (such as on an
// exported training set with Spark + XGBoost). It must take the serving
// feature schema (by name, or by count when the file names none) and pass
// validation.
func (mm *modelManager) Import(path string) (registry.Meta, error) {
	const op = "models.Import"
	g, err := gbdt.LoadFile(path)
	if err != nil {
		return registry.Meta{}, reco.E(op, reco.Invalid, err)
	}
	if len(g.FeatureNames()) == 0 && g.NumFeatures() == rank.NumFeatures {
		if g, err = g.WithFeatureNames(rank.FeatureNames); err != nil {
			return registry.Meta{}, reco.E(op, reco.Invalid, err)
		}
	}
	if err := rank.Validate(g, probe()); err != nil {
		return registry.Meta{}, reco.E(op, reco.Invalid, fmt.Errorf("model %s refused: %w", path, err))
	}
	now := time.Now()
	meta := registry.Meta{Version: mm.reg.NewVersion("import", now), Created: now.UTC(), Source: "import:" + filepath.Base(path),
		SchemaHash: rank.SchemaHash(), FeatureNames: rank.FeatureNames}
	return mm.reg.Register(g, meta, nil)
}

// similarSource serves the similar-items table of the serving model
// version (built by the training that made it).
type similarSource struct{ mm *modelManager }

func (s similarSource) Name() string { return candidate.SrcSimilar }

func (s similarSource) Candidates(ctx context.Context, in *candidate.Input, n int) ([]candidate.Candidate, error) {
	t := s.mm.cur.Load().similar
	if t == nil {
		return nil, nil
	}
	return candidate.Similar{Table: t}.Candidates(ctx, in, n)
}
