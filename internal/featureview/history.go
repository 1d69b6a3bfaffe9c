package featureview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/recohq/reco/internal/offline"
)

// Sink receives the history of the views. *offline.Store implements it
// (once it knows the views: OfflineViews). Writing the same (view, batch)
// again must replace the earlier write: the engine rewrites a batch after
// a crash, with the same content.
type Sink interface {
	// WriteRows writes rows of an offline view as one batch.
	WriteRows(ctx context.Context, view, batch string, rows []offline.Row) error
}

var _ Sink = (*offline.Store)(nil)

// OfflineName is the name of a view's history in the offline store: the
// view's own name, or "views.<name>" when a built-in offline view has it
// (user_features holds the stream's 5-minute windows, product_features the
// daily snapshots; the shipped views of the same names are other tables).
// Declared names have no dots, so "views." names never clash with them.
func OfflineName(view string) string {
	if slices.ContainsFunc(offline.DefaultViews(), func(v offline.View) bool { return v.Name == view }) {
		return "views." + view
	}
	return view
}

// foreverTTL stands for TTL 0 (never expires) in the offline store, which
// needs a positive TTL: a point-in-time join reaches back this far.
const foreverTTL = 100 * 365 * 24 * time.Hour

// OfflineViews returns the offline store schema of each view's history,
// in order: name OfflineName(v.Name); entity column "<entity>_id" (user_id,
// product_id, session_id, category_id, user_category_id, whose keys are
// user + "|" + category); the timestamp column; one nullable column per
// feature with its type (timestamps as Unix ms); the view's TTL (0 means
// 100 years). A feature named like the entity or timestamp column is an
// error.
func OfflineViews(views []View) ([]offline.View, error) {
	var out []offline.View
	var errs []error
	for i := range views {
		v := &views[i]
		ov := offline.View{Name: OfflineName(v.Name), Entity: v.Entity + "_id", TTL: v.TTL.D()}
		if ov.TTL <= 0 {
			ov.TTL = foreverTTL
		}
		for j := range v.Features {
			f := &v.Features[j]
			if f.Name == ov.Entity || f.Name == offline.TimeColumn {
				errs = append(errs, fmt.Errorf("view %s: feature %q has the name of the offline store's %s column", v.Name, f.Name, f.Name))
				continue
			}
			typ := f.Type
			if typ == "" {
				typ = naturalType(f)
			}
			ov.Fields = append(ov.Fields, offline.Field{Name: f.Name, Type: offlineType(typ)})
		}
		out = append(out, ov)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func offlineType(typ string) offline.Type {
	switch typ {
	case "int64":
		return offline.Int64
	case "string":
		return offline.String
	case "timestamp":
		return offline.Timestamp
	}
	return offline.Float64
}

// history is the engine's sealed, not yet written output; the same
// protocol as package window's aggregator.
type history struct {
	mu           sync.Mutex
	epoch        uint64         // the next epoch to seal
	sealed       []*sealedEpoch // sealed, not yet written
	snapEpoch    uint64         // epochs below this were sealed by the last Snapshot
	durableEpoch uint64         // epochs below this are in a durable checkpoint: writable
	wake         chan struct{}
}

// sealedEpoch is the history rows of one checkpoint interval: fixed when a
// Snapshot seals it, so every rewrite after a crash writes the same bytes.
type sealedEpoch struct {
	epoch   uint64
	batches []sealedBatch
}

// sealedBatch is the rows of one view in an epoch.
type sealedBatch struct {
	view string // the offline name
	rows []offline.Row
}

// seal turns every entity changed since the last seal into a history row
// (its values read as of its newest event time) and clears the marks. It
// returns nil if nothing changed. Callers hold hist.mu, with Apply paused.
func (e *Engine) seal() *sealedEpoch {
	s := &sealedEpoch{epoch: e.hist.epoch}
	for _, v := range e.views {
		var rows []offline.Row
		for i := range v.shards {
			sh := &v.shards[i]
			sh.mu.Lock()
			if sh.dirty > 0 {
				for key, ent := range sh.m {
					if ent.dirty {
						rows = append(rows, v.historyRow(key, ent))
						ent.dirty = false
					}
				}
				sh.dirty = 0
			}
			sh.mu.Unlock()
		}
		if len(rows) == 0 {
			continue
		}
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].Time != rows[j].Time {
				return rows[i].Time < rows[j].Time
			}
			return rows[i].Key < rows[j].Key
		})
		s.batches = append(s.batches, sealedBatch{view: OfflineName(v.v.Name), rows: rows})
	}
	if len(s.batches) == 0 {
		return nil
	}
	return s
}

// historyRow is ent's row: every feature as Get reads it at the entity's
// newest event time (missing, or expired by TTL, is null).
func (v *cview) historyRow(key string, ent *entity) offline.Row {
	r := offline.Row{Key: key, Time: ent.updated, Values: make([]offline.Value, len(v.feats))}
	for j := range v.feats {
		r.Values[j] = offlineValue(v.read(ent, j, ent.updated))
	}
	return r
}

func offlineValue(x Value) offline.Value {
	if x.Status != Present {
		return offline.Null
	}
	switch y := x.Value.(type) {
	case int64:
		return offline.Int(y)
	case float64:
		return offline.Float(y)
	case string:
		return offline.Str(y)
	case time.Time:
		return offline.Int(y.UnixMilli())
	}
	return offline.Null
}

// markAllDirty makes the next Snapshot seal a row for every entity: after
// restoring a snapshot that carried no history (format 2).
func (e *Engine) markAllDirty() {
	for _, v := range e.views {
		for i := range v.shards {
			sh := &v.shards[i]
			sh.mu.Lock()
			for _, ent := range sh.m {
				ent.dirty = true
			}
			sh.dirty = len(sh.m)
			sh.mu.Unlock()
		}
	}
}

// Committed tells the engine that the checkpoint holding its last Snapshot
// is durable, so the history it sealed may be written. Wire it to
// stream.Hooks.OnCheckpoint when err == nil. It does no I/O.
func (e *Engine) Committed() {
	e.hist.mu.Lock()
	e.hist.durableEpoch = e.hist.snapEpoch
	e.hist.mu.Unlock()
	e.signal()
}

func (e *Engine) signal() {
	select {
	case e.hist.wake <- struct{}{}:
	default:
	}
}

// Pending reports the sealed epochs not yet written and how many of them
// are writable.
func (e *Engine) Pending() (sealedEpochs, durable int) {
	e.hist.mu.Lock()
	defer e.hist.mu.Unlock()
	for _, s := range e.hist.sealed {
		if s.epoch < e.hist.durableEpoch {
			durable++
		}
	}
	return len(e.hist.sealed), durable
}

// HistoryBatch is the batch name of an epoch's rows: "views-" and the
// epoch, zero-padded so that names sort by epoch.
func HistoryBatch(epoch uint64) string { return fmt.Sprintf("views-%012d", epoch) }

// Flush writes every durable sealed epoch to Options.Offline, oldest
// first, and forgets each one written. Without Offline it does nothing.
// Safe to call concurrently with Apply and Snapshot; concurrent Flush calls
// may write an epoch twice (harmless).
func (e *Engine) Flush(ctx context.Context) error {
	sink := e.opt.Offline
	if sink == nil {
		return nil
	}
	e.hist.mu.Lock()
	var todo []*sealedEpoch
	for _, s := range e.hist.sealed {
		if s.epoch < e.hist.durableEpoch {
			todo = append(todo, s)
		}
	}
	e.hist.mu.Unlock()
	for _, s := range todo {
		name := HistoryBatch(s.epoch)
		for _, b := range s.batches {
			start := time.Now()
			err := sink.WriteRows(ctx, b.view, name, b.rows)
			if h := e.opt.Hooks.OnFlush; h != nil {
				h(b.view, len(b.rows), time.Since(start), err)
			}
			if err != nil {
				return fmt.Errorf("feature view history %s epoch %d: %w", b.view, s.epoch, err)
			}
		}
		e.hist.mu.Lock()
		e.hist.sealed = slices.DeleteFunc(e.hist.sealed, func(x *sealedEpoch) bool { return x == s })
		e.hist.mu.Unlock()
	}
	return nil
}

// Run flushes whenever Committed or Restore makes epochs writable (and
// retries a failed flush every retry interval; <= 0 means 10 s) until ctx
// ends; then it tries one last flush with a fresh 10 s deadline. Errors go
// to onErr (may be nil). It returns nil.
func (e *Engine) Run(ctx context.Context, retry time.Duration, onErr func(error)) error {
	if retry <= 0 {
		retry = 10 * time.Second
	}
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := e.Flush(fctx); err != nil && onErr != nil {
				onErr(err)
			}
			return nil
		case <-e.hist.wake:
		case <-t.C:
		}
		if err := e.Flush(ctx); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}
