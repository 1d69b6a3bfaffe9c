package featureview

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"io"
	"maps"
	"sync"
)

// snapshotVersion changes with the snapshot format; the definition hash
// changes with the definitions. Either refuses an old snapshot, so that the
// stream processor replays the log instead.
const snapshotVersion = 1

type snapHeader struct {
	Version int
	Hash    string
	Applied int64
	Views   []snapView
	Catalog int
}

type snapView struct {
	Name            string
	Entities        int
	Newest, NewestI int64
}

type snapEntity struct {
	Key     string
	Updated int64
	Nums    []float64
	Strs    []string
	Maps    []map[string]int64
}

type snapCatalog struct {
	ID       string
	Category string
	Price    float64
}

// Snapshot writes the whole state to w, stamped with the format version and
// the definition hash. It must not run concurrently with Apply; reads may
// go on.
func (e *Engine) Snapshot(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := gob.NewEncoder(bw)
	h := snapHeader{Version: snapshotVersion, Hash: e.hash, Applied: e.applied.Load()}
	for _, v := range e.views {
		sv := snapView{Name: v.v.Name, Newest: v.newest.Load(), NewestI: v.newestI.Load()}
		for i := range v.shards {
			v.shards[i].mu.RLock()
			sv.Entities += len(v.shards[i].m)
			v.shards[i].mu.RUnlock()
		}
		h.Views = append(h.Views, sv)
	}
	for i := range e.catalog {
		e.catalog[i].mu.Lock()
		h.Catalog += len(e.catalog[i].m)
		e.catalog[i].mu.Unlock()
	}
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("snapshot feature views header: %w", err)
	}
	for _, v := range e.views {
		for i := range v.shards {
			sh := &v.shards[i]
			sh.mu.RLock()
			for k, ent := range sh.m {
				se := snapEntity{Key: k, Updated: ent.updated, Nums: ent.nums, Strs: ent.strs, Maps: ent.maps}
				if err := enc.Encode(&se); err != nil {
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
			if err := enc.Encode(snapCatalog{id, c.Category, c.Price}); err != nil {
				sh.mu.Unlock()
				return fmt.Errorf("snapshot feature view catalog %q: %w", id, err)
			}
		}
		sh.mu.Unlock()
	}
	return bw.Flush()
}

// Restore replaces the state with a snapshot written by Snapshot from the
// same definitions. A snapshot of another format version or other
// definitions (DefinitionHash) is an error and leaves the state as it was:
// the caller replays the log. It must not run concurrently with Apply.
func (e *Engine) Restore(r io.Reader) error {
	dec := gob.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var h snapHeader
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("restore feature views header: %w", err)
	}
	if h.Version != snapshotVersion {
		return fmt.Errorf("restore feature views: snapshot format %d, want %d", h.Version, snapshotVersion)
	}
	if h.Hash != e.hash || len(h.Views) != len(e.views) {
		return fmt.Errorf("restore feature views: the definitions changed (snapshot %s, now %s): replay the log", h.Hash, e.hash)
	}
	fresh := make([][nShards]map[string]*entity, len(e.views))
	for vi, v := range e.views {
		sv := h.Views[vi]
		if sv.Name != v.v.Name {
			return fmt.Errorf("restore feature views: view %d is %q, want %q", vi, sv.Name, v.v.Name)
		}
		for i := range fresh[vi] {
			fresh[vi][i] = map[string]*entity{}
		}
		for n := 0; n < sv.Entities; n++ {
			var se snapEntity
			if err := dec.Decode(&se); err != nil {
				return fmt.Errorf("restore feature view %s entity %d of %d: %w", v.v.Name, n, sv.Entities, err)
			}
			if len(se.Nums) != v.nNums || len(se.Strs) != v.nStrs || len(se.Maps) != v.nMaps {
				return fmt.Errorf("restore feature view %s entity %q: state layout differs", v.v.Name, se.Key)
			}
			fresh[vi][e.shard(se.Key)][se.Key] = &entity{updated: se.Updated, nums: se.Nums, strs: se.Strs, maps: se.Maps}
		}
	}
	var cat [nShards]map[string]catEntry
	for i := range cat {
		cat[i] = map[string]catEntry{}
	}
	for n := 0; n < h.Catalog; n++ {
		var c snapCatalog
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("restore feature view catalog %d of %d: %w", n, h.Catalog, err)
		}
		cat[e.shard(c.ID)][c.ID] = catEntry{c.Category, c.Price}
	}
	for vi, v := range e.views {
		for i := range v.shards {
			swap(&v.shards[i].mu, func() { v.shards[i].m = fresh[vi][i] })
		}
		v.newest.Store(h.Views[vi].Newest)
		v.newestI.Store(h.Views[vi].NewestI)
	}
	for i := range e.catalog {
		e.catalog[i].mu.Lock()
		e.catalog[i].m = maps.Clone(cat[i])
		e.catalog[i].mu.Unlock()
	}
	e.applied.Store(h.Applied)
	return nil
}

func swap(mu *sync.RWMutex, f func()) {
	mu.Lock()
	defer mu.Unlock()
	f()
}
