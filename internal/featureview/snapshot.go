package featureview

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"sync"

	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/wire"
)

// snapshotVersion changes with the snapshot format; the definition hash
// changes with the definitions. Either refuses an old snapshot, so that the
// stream processor replays the log instead.
//
// The format is length-prefixed binary records (package wire), not gob: a
// checkpoint writes every entity of every view, and gob's reflection was
// most of a checkpoint's CPU.
//
// Version 3 adds the history (sealed epochs not yet written, and the next
// epoch). Restore still reads version 2: it then seals a history row for
// every entity at the next Snapshot.
const snapshotVersion = 3

// hashFormat is the format number inside the definition hash. It stays 2
// while the entity records keep their layout, so that snapshots of format
// 2 still restore.
const hashFormat = 2

// Snapshot writes the whole state to w, stamped with the format version and
// the definition hash. It must not run concurrently with Apply; reads may
// go on.
//
// With Options.Offline set, it first seals the history: one row per entity
// changed since the last Snapshot into a new epoch, kept in the snapshot
// until Flush writes it (after Committed).
func (e *Engine) Snapshot(w io.Writer) error {
	e.hist.mu.Lock()
	defer e.hist.mu.Unlock()
	if e.opt.Offline != nil {
		if s := e.seal(); s != nil {
			e.hist.sealed = append(e.hist.sealed, s)
			e.hist.epoch++
		}
	}
	e.hist.snapEpoch = e.hist.epoch
	nBatches := 0
	for _, s := range e.hist.sealed {
		nBatches += len(s.batches)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var b []byte
	b = binary.AppendUvarint(b, snapshotVersion)
	b = wire.AppendString(b, e.hash)
	b = binary.AppendVarint(b, e.applied.Load())
	b = binary.AppendUvarint(b, uint64(len(e.views)))
	for _, v := range e.views {
		n := 0
		for i := range v.shards {
			v.shards[i].mu.RLock()
			n += len(v.shards[i].m)
			v.shards[i].mu.RUnlock()
		}
		b = wire.AppendString(b, v.v.Name)
		b = binary.AppendUvarint(b, uint64(n))
		b = binary.AppendVarint(b, v.newest.Load())
		b = binary.AppendVarint(b, v.newestI.Load())
	}
	cat := 0
	for i := range e.catalog {
		e.catalog[i].mu.Lock()
		cat += len(e.catalog[i].m)
		e.catalog[i].mu.Unlock()
	}
	b = binary.AppendUvarint(b, uint64(cat))
	b = binary.AppendUvarint(b, e.hist.epoch)
	b = binary.AppendUvarint(b, uint64(nBatches))
	if err := wire.WriteRecord(bw, b); err != nil {
		return fmt.Errorf("snapshot feature views header: %w", err)
	}
	for _, v := range e.views {
		for i := range v.shards {
			sh := &v.shards[i]
			sh.mu.RLock()
			for k, ent := range sh.m {
				b = appendEntity(b[:0], k, ent)
				if err := wire.WriteRecord(bw, b); err != nil {
					sh.mu.RUnlock()
					return fmt.Errorf("snapshot feature view %s entity %q: %w", v.v.Name, k, err)
				}
			}
			sh.mu.RUnlock()
		}
	}
	for i := range e.catalog {
		sh := &e.catalog[i]
		sh.mu.Lock()
		for id, c := range sh.m {
			b = wire.AppendString(b[:0], id)
			b = wire.AppendString(b, c.Category)
			b = wire.AppendFloat64(b, c.Price)
			if err := wire.WriteRecord(bw, b); err != nil {
				sh.mu.Unlock()
				return fmt.Errorf("snapshot feature view catalog %q: %w", id, err)
			}
		}
		sh.mu.Unlock()
	}
	views := e.offlineViews()
	for _, s := range e.hist.sealed {
		for _, sb := range s.batches {
			v := views[sb.view]
			b = binary.AppendUvarint(b[:0], s.epoch)
			b = wire.AppendString(b, sb.view)
			b = binary.AppendUvarint(b, uint64(len(sb.rows)))
			if err := wire.WriteRecord(bw, b); err != nil {
				return fmt.Errorf("snapshot feature view history %s epoch %d: %w", sb.view, s.epoch, err)
			}
			for i := range sb.rows {
				b = appendHistoryRow(b[:0], v, &sb.rows[i])
				if err := wire.WriteRecord(bw, b); err != nil {
					return fmt.Errorf("snapshot feature view history %s epoch %d: %w", sb.view, s.epoch, err)
				}
			}
		}
	}
	return bw.Flush()
}

// bounded reads a count of records that follow (not bytes of d): at most
// 1<<40, else d fails.
func bounded(d *wire.Reader) int {
	n := d.Uvarint()
	if n > 1<<40 {
		d.Fail()
		return 0
	}
	return int(n)
}

// offlineViews maps the offline name of each view to the view.
func (e *Engine) offlineViews() map[string]*cview {
	m := make(map[string]*cview, len(e.views))
	for _, v := range e.views {
		m[OfflineName(v.v.Name)] = v
	}
	return m
}

// appendHistoryRow encodes a history row of v: key, time, then per feature
// a null byte and, unless null, the value in the feature's type.
func appendHistoryRow(b []byte, v *cview, r *offline.Row) []byte {
	b = wire.AppendString(b, r.Key)
	b = binary.AppendVarint(b, r.Time)
	for j := range v.feats {
		x := r.Values[j]
		if x.Null {
			b = append(b, 1)
			continue
		}
		b = append(b, 0)
		switch offlineType(v.feats[j].typ) {
		case offline.Float64:
			b = wire.AppendFloat64(b, x.Float)
		case offline.String:
			b = wire.AppendString(b, x.Str)
		default:
			b = binary.AppendVarint(b, x.Int)
		}
	}
	return b
}

func readHistoryRow(d *wire.Reader, v *cview) offline.Row {
	r := offline.Row{Key: d.String(), Time: d.Varint(), Values: make([]offline.Value, len(v.feats))}
	for j := range v.feats {
		if d.Byte() != 0 {
			r.Values[j] = offline.Null
			continue
		}
		switch offlineType(v.feats[j].typ) {
		case offline.Float64:
			r.Values[j] = offline.Float(d.Float64())
		case offline.String:
			r.Values[j] = offline.Str(d.String())
		default:
			r.Values[j] = offline.Int(d.Varint())
		}
	}
	return r
}

func appendEntity(b []byte, key string, ent *entity) []byte {
	b = wire.AppendString(b, key)
	b = binary.AppendVarint(b, ent.updated)
	b = binary.AppendUvarint(b, uint64(len(ent.nums)))
	for _, f := range ent.nums {
		b = wire.AppendFloat64(b, f)
	}
	b = binary.AppendUvarint(b, uint64(len(ent.strs)))
	for _, s := range ent.strs {
		b = wire.AppendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(ent.maps)))
	for _, m := range ent.maps {
		if m == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(m)))
		for k, v := range m {
			b = wire.AppendString(b, k)
			b = binary.AppendVarint(b, v)
		}
	}
	return b
}

func readEntity(d *wire.Reader) (string, *entity) {
	key := d.String()
	ent := &entity{updated: d.Varint()}
	if n := d.Count(); n > 0 {
		ent.nums = make([]float64, n)
		for i := range ent.nums {
			ent.nums[i] = d.Float64()
		}
	}
	if n := d.Count(); n > 0 {
		ent.strs = make([]string, n)
		for i := range ent.strs {
			ent.strs[i] = d.String()
		}
	}
	if n := d.Count(); n > 0 {
		ent.maps = make([]map[string]int64, n)
		for i := range ent.maps {
			if d.Byte() == 0 {
				continue
			}
			k := d.Count()
			m := make(map[string]int64, k)
			for j := 0; j < k && d.Err() == nil; j++ {
				key := d.String()
				m[key] = d.Varint()
			}
			ent.maps[i] = m
		}
	}
	return key, ent
}

// Restore replaces the state with a snapshot written by Snapshot from the
// same definitions. A snapshot of an unknown format version or other
// definitions (DefinitionHash) is an error and leaves the state as it was:
// the caller replays the log. It must not run concurrently with Apply.
//
// The history epochs in the snapshot are durable (it comes from a
// checkpoint), so the next Flush writes them under the same batch names as
// before a crash. A format 2 snapshot has no history: the next Snapshot
// seals a row for every entity.
func (e *Engine) Restore(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	hb, err := wire.ReadRecord(br, nil)
	if err != nil {
		return fmt.Errorf("restore feature views header: %w", err)
	}
	h := wire.NewReader(hb)
	version := h.Uvarint()
	if version != 2 && version != snapshotVersion {
		return fmt.Errorf("restore feature views: snapshot format %d, want 2 or %d", version, snapshotVersion)
	}
	hash := h.String()
	applied := h.Varint()
	nViews := h.Count()
	if h.Err() != nil {
		return fmt.Errorf("restore feature views header: %w", h.Err())
	}
	if hash != e.hash || nViews != len(e.views) {
		return fmt.Errorf("restore feature views: the definitions changed (snapshot %s, now %s): replay the log", hash, e.hash)
	}
	type viewHead struct {
		name            string
		entities        int
		newest, newestI int64
	}
	heads := make([]viewHead, nViews)
	for i := range heads {
		heads[i] = viewHead{h.String(), int(h.Uvarint()), h.Varint(), h.Varint()}
	}
	catalog := h.Uvarint()
	var epoch uint64
	var nBatches int
	if version >= 3 {
		epoch, nBatches = h.Uvarint(), bounded(h)
	}
	if h.Err() != nil {
		return fmt.Errorf("restore feature views header: %w", h.Err())
	}
	fresh := make([][nShards]map[string]*entity, len(e.views))
	var buf []byte
	for vi, v := range e.views {
		sv := heads[vi]
		if sv.name != v.v.Name {
			return fmt.Errorf("restore feature views: view %d is %q, want %q", vi, sv.name, v.v.Name)
		}
		for i := range fresh[vi] {
			fresh[vi][i] = map[string]*entity{}
		}
		for n := 0; n < sv.entities; n++ {
			if buf, err = wire.ReadRecord(br, buf); err != nil {
				return fmt.Errorf("restore feature view %s entity %d of %d: %w", v.v.Name, n, sv.entities, err)
			}
			d := wire.NewReader(buf)
			key, ent := readEntity(d)
			if d.Err() != nil {
				return fmt.Errorf("restore feature view %s entity %d of %d: %w", v.v.Name, n, sv.entities, d.Err())
			}
			if len(ent.nums) != v.nNums || len(ent.strs) != v.nStrs || len(ent.maps) != v.nMaps {
				return fmt.Errorf("restore feature view %s entity %q: state layout differs", v.v.Name, key)
			}
			fresh[vi][e.shard(key)][key] = ent
		}
	}
	var cat [nShards]map[string]catEntry
	for i := range cat {
		cat[i] = map[string]catEntry{}
	}
	for n := uint64(0); n < catalog; n++ {
		if buf, err = wire.ReadRecord(br, buf); err != nil {
			return fmt.Errorf("restore feature view catalog %d of %d: %w", n, catalog, err)
		}
		d := wire.NewReader(buf)
		id := d.String()
		c := catEntry{d.String(), d.Float64()}
		if d.Err() != nil {
			return fmt.Errorf("restore feature view catalog %d of %d: %w", n, catalog, d.Err())
		}
		cat[e.shard(id)][id] = c
	}
	views := e.offlineViews()
	var sealed []*sealedEpoch
	for n := 0; n < nBatches; n++ {
		if buf, err = wire.ReadRecord(br, buf); err != nil {
			return fmt.Errorf("restore feature view history batch %d of %d: %w", n, nBatches, err)
		}
		d := wire.NewReader(buf)
		ep, name, nRows := d.Uvarint(), d.String(), bounded(d)
		v := views[name]
		if d.Err() != nil || v == nil || ep >= epoch {
			return fmt.Errorf("restore feature view history batch %d of %d: bad header (view %q, epoch %d of %d, %v)", n, nBatches, name, ep, epoch, d.Err())
		}
		sb := sealedBatch{view: name, rows: make([]offline.Row, 0, min(nRows, 1<<16))}
		for i := 0; i < nRows; i++ {
			if buf, err = wire.ReadRecord(br, buf); err != nil {
				return fmt.Errorf("restore feature view history %s epoch %d row %d: %w", name, ep, i, err)
			}
			d := wire.NewReader(buf)
			sb.rows = append(sb.rows, readHistoryRow(d, v))
			if d.Err() != nil {
				return fmt.Errorf("restore feature view history %s epoch %d row %d: %w", name, ep, i, d.Err())
			}
		}
		if len(sealed) == 0 || sealed[len(sealed)-1].epoch != ep {
			sealed = append(sealed, &sealedEpoch{epoch: ep})
		}
		last := sealed[len(sealed)-1]
		last.batches = append(last.batches, sb)
	}
	for vi, v := range e.views {
		for i := range v.shards {
			swap(&v.shards[i].mu, func() { v.shards[i].m, v.shards[i].dirty = fresh[vi][i], 0 })
		}
		v.newest.Store(heads[vi].newest)
		v.newestI.Store(heads[vi].newestI)
	}
	for i := range e.catalog {
		e.catalog[i].mu.Lock()
		e.catalog[i].m = maps.Clone(cat[i])
		e.catalog[i].mu.Unlock()
	}
	e.applied.Store(applied)
	e.hist.mu.Lock()
	e.hist.epoch, e.hist.snapEpoch, e.hist.durableEpoch = epoch, epoch, epoch
	e.hist.sealed = sealed
	e.hist.mu.Unlock()
	if version < 3 {
		e.markAllDirty()
	}
	e.signal()
	return nil
}

func swap(mu *sync.RWMutex, f func()) {
	mu.Lock()
	defer mu.Unlock()
	f()
}
