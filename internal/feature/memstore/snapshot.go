package memstore

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/wire"
)

// snapshotVersion changes whenever the meaning of state changes, so that an
// old snapshot is refused and the log replayed instead.
const snapshotVersion = 2

// The snapshot is a header, then length-prefixed records: users and
// products in the compact codec of package feature (not gob: a checkpoint
// of 100k users must cost milliseconds of CPU, not seconds), then each
// item's co-visitation list.

// Snapshot writes the whole state to w. It must not run concurrently with
// Apply (the stream processor calls it between batches); readers may go on.
func (s *Store) Snapshot(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	st := s.Stats()
	var buf []byte
	buf = binary.AppendUvarint(buf, snapshotVersion)
	for _, n := range []int64{int64(st.Users), int64(st.Products), int64(st.CoVisitItems), st.LastIngested, st.LastEventTime, st.Applied} {
		buf = binary.AppendVarint(buf, n)
	}
	if err := wire.WriteRecord(bw, buf); err != nil {
		return fmt.Errorf("snapshot header: %w", err)
	}
	for i := range s.users {
		sh := &s.users[i]
		sh.mu.RLock()
		for _, u := range sh.m {
			buf = feature.AppendUser(buf[:0], u)
			if err := wire.WriteRecord(bw, buf); err != nil {
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
			buf = feature.AppendProduct(buf[:0], p)
			if err := wire.WriteRecord(bw, buf); err != nil {
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
			buf = wire.AppendString(buf[:0], id)
			buf = binary.AppendUvarint(buf, uint64(len(m)))
			for k, v := range m {
				buf = wire.AppendString(buf, k)
				buf = wire.AppendFloat32(buf, v)
			}
			if err := wire.WriteRecord(bw, buf); err != nil {
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
	br := bufio.NewReaderSize(r, 1<<20)
	hb, err := wire.ReadRecord(br, nil)
	if err != nil {
		return fmt.Errorf("restore header: %w", err)
	}
	h := wire.NewReader(hb)
	if v := h.Uvarint(); v != snapshotVersion {
		return fmt.Errorf("restore: snapshot version %d, want %d", v, snapshotVersion)
	}
	users, products, cov := h.Varint(), h.Varint(), h.Varint()
	lastIngested, lastEvent, applied := h.Varint(), h.Varint(), h.Varint()
	if h.Err() != nil {
		return fmt.Errorf("restore header: %w", h.Err())
	}
	fresh := New(s.opt)
	fresh.seed = s.seed
	var buf []byte
	for i := int64(0); i < users; i++ {
		if buf, err = wire.ReadRecord(br, buf); err != nil {
			return fmt.Errorf("restore user %d of %d: %w", i, users, err)
		}
		u, err := feature.DecodeUser(buf)
		if err != nil {
			return fmt.Errorf("restore user %d of %d: %w", i, users, err)
		}
		fresh.users[fresh.shard(u.ID)].m[u.ID] = u
	}
	for i := int64(0); i < products; i++ {
		if buf, err = wire.ReadRecord(br, buf); err != nil {
			return fmt.Errorf("restore product %d of %d: %w", i, products, err)
		}
		p, err := feature.DecodeProduct(buf)
		if err != nil {
			return fmt.Errorf("restore product %d of %d: %w", i, products, err)
		}
		fresh.products[fresh.shard(p.ID)].m[p.ID] = p
	}
	for i := int64(0); i < cov; i++ {
		if buf, err = wire.ReadRecord(br, buf); err != nil {
			return fmt.Errorf("restore co-visitation %d of %d: %w", i, cov, err)
		}
		d := wire.NewReader(buf)
		id := d.String()
		n := d.Count()
		m := make(map[string]float32, n)
		for k := 0; k < n && d.Err() == nil; k++ {
			key := d.String()
			m[key] = d.Float32()
		}
		if d.Err() != nil {
			return fmt.Errorf("restore co-visitation %d of %d: %w", i, cov, d.Err())
		}
		fresh.covisit[fresh.shard(id)].m[id] = m
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
	s.lastIngested.Store(lastIngested)
	s.lastEvent.Store(lastEvent)
	s.applied.Store(applied)
	return nil
}
