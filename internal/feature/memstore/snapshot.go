package memstore

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"io"

	"github.com/recohq/reco/internal/feature"
)

// snapshotVersion changes whenever the meaning of state changes, so that an
// old snapshot is refused and the log replayed instead.
const snapshotVersion = 1

type snapshotHeader struct {
	Version      int
	Users        int
	Products     int
	CoVisit      int
	LastIngested int64
	LastEvent    int64
	Applied      int64
}

type covEntry struct {
	ID        string
	Neighbors map[string]float32
}

// Snapshot writes the whole state to w. It must not run concurrently with
// Apply (the stream processor calls it between records); readers may go on.
func (s *Store) Snapshot(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := gob.NewEncoder(bw)
	st := s.Stats()
	h := snapshotHeader{Version: snapshotVersion, Users: st.Users, Products: st.Products, CoVisit: st.CoVisitItems,
		LastIngested: st.LastIngested, LastEvent: st.LastEventTime, Applied: st.Applied}
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("snapshot header: %w", err)
	}
	for i := range s.users {
		sh := &s.users[i]
		sh.mu.RLock()
		for _, u := range sh.m {
			if err := enc.Encode(u); err != nil {
				sh.mu.RUnlock()
				return fmt.Errorf("snapshot user %s: %w", u.ID, err)
			}
		}
		sh.mu.RUnlock()
	}
	for i := range s.products {
		sh := &s.products[i]
		sh.mu.RLock()
		for _, p := range sh.m {
			if err := enc.Encode(p); err != nil {
				sh.mu.RUnlock()
				return fmt.Errorf("snapshot product %s: %w", p.ID, err)
			}
		}
		sh.mu.RUnlock()
	}
	for i := range s.covisit {
		sh := &s.covisit[i]
		sh.mu.RLock()
		for id, m := range sh.m {
			if err := enc.Encode(covEntry{id, m}); err != nil {
				sh.mu.RUnlock()
				return fmt.Errorf("snapshot co-visitation %s: %w", id, err)
			}
		}
		sh.mu.RUnlock()
	}
	return bw.Flush()
}

// Restore replaces the state with a snapshot written by Snapshot. It must
// not run concurrently with Apply.
func (s *Store) Restore(r io.Reader) error {
	dec := gob.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("restore header: %w", err)
	}
	if h.Version != snapshotVersion {
		return fmt.Errorf("restore: snapshot version %d, want %d", h.Version, snapshotVersion)
	}
	fresh := New(s.opt)
	fresh.seed = s.seed
	for i := 0; i < h.Users; i++ {
		u := new(feature.User)
		if err := dec.Decode(u); err != nil {
			return fmt.Errorf("restore user %d of %d: %w", i, h.Users, err)
		}
		fresh.users[fresh.shard(u.ID)].m[u.ID] = u
	}
	for i := 0; i < h.Products; i++ {
		p := new(feature.Product)
		if err := dec.Decode(p); err != nil {
			return fmt.Errorf("restore product %d of %d: %w", i, h.Products, err)
		}
		fresh.products[fresh.shard(p.ID)].m[p.ID] = p
	}
	for i := 0; i < h.CoVisit; i++ {
		var c covEntry
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("restore co-visitation %d of %d: %w", i, h.CoVisit, err)
		}
		if c.Neighbors == nil {
			c.Neighbors = map[string]float32{}
		}
		fresh.covisit[fresh.shard(c.ID)].m[c.ID] = c.Neighbors
	}
	for i := range s.users {
		s.users[i].mu.Lock()
		s.users[i].m = fresh.users[i].m
		s.users[i].mu.Unlock()
		s.products[i].mu.Lock()
		s.products[i].m = fresh.products[i].m
		s.products[i].mu.Unlock()
		s.covisit[i].mu.Lock()
		s.covisit[i].m = fresh.covisit[i].m
		s.covisit[i].mu.Unlock()
	}
	s.lastIngested.Store(h.LastIngested)
	s.lastEvent.Store(h.LastEvent)
	s.applied.Store(h.Applied)
	return nil
}
