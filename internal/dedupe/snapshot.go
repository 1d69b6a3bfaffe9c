package dedupe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/recohq/reco/internal/wire"
)

// The snapshot layout, version 1, all integers varints unless noted:
//
//	version byte (1)
//	partitions (uvarint), then for each, in increasing partition order:
//	    partition, newest ingest time, next bucket id (uvarint),
//	    buckets (uvarint), then for each, oldest first:
//	        id (uvarint), start, max time, keys (uvarint), then for each:
//	            the 128-bit hash (two little-endian uint64s),
//	            1 and its time if the key lives in this bucket, else 0.
//
// Keys are listed in the order they were added, stale ones included, so
// that a restored filter is the one that wrote the snapshot, byte for byte.
const snapshotVersion = 1

// Snapshot writes every partition's memory. It must not run concurrently
// with Apply.
func (f *Filter) Snapshot(w io.Writer) error {
	parts := *f.parts.Load()
	ids := slices.Sorted(maps.Keys(parts))
	b := binary.AppendUvarint([]byte{snapshotVersion}, uint64(len(ids)))
	for _, id := range ids {
		p := parts[id]
		b = binary.AppendVarint(b, int64(id))
		b = binary.AppendVarint(b, p.newest)
		b = binary.AppendUvarint(b, p.nextID)
		b = binary.AppendUvarint(b, uint64(len(p.buckets)))
		for _, bk := range p.buckets {
			b = binary.AppendUvarint(b, bk.id)
			b = binary.AppendVarint(b, bk.start)
			b = binary.AppendVarint(b, bk.maxAt)
			b = binary.AppendUvarint(b, uint64(len(bk.keys)))
			for _, k := range bk.keys {
				b = binary.LittleEndian.AppendUint64(b, k[0])
				b = binary.LittleEndian.AppendUint64(b, k[1])
				if e, ok := p.seen[k]; ok && e.bucket == bk.id {
					b = append(b, 1)
					b = binary.AppendVarint(b, e.at)
				} else {
					b = append(b, 0)
				}
			}
		}
		// Flush a large partition before the next one grows the buffer.
		if len(b) > 1<<20 {
			if _, err := w.Write(b); err != nil {
				return fmt.Errorf("dedupe snapshot: %w", err)
			}
			b = b[:0]
		}
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("dedupe snapshot: %w", err)
	}
	return nil
}

func (p *part) has(k key) bool {
	_, ok := p.seen[k]
	return ok
}

var errCorrupt = errors.New("dedupe restore: corrupt snapshot")

// Restore replaces the filter's memory with a snapshot written by
// Snapshot. It must not run concurrently with Apply. On error the filter
// is unchanged.
func (f *Filter) Restore(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("dedupe restore: %w", err)
	}
	d := wire.NewReader(data)
	if v := d.Byte(); d.Err() == nil && v != snapshotVersion {
		return fmt.Errorf("dedupe restore: unknown snapshot version %d", v)
	}
	nparts := d.Count()
	parts := make(map[int]*part, nparts)
	var keys int64
	for range nparts {
		id := int(d.Varint())
		if _, dup := parts[id]; dup || d.Err() != nil {
			return errCorrupt
		}
		p := newPart()
		p.newest = d.Varint()
		p.nextID = d.Uvarint()
		nb := d.Count()
		for i := range nb {
			bk := &bucket{id: d.Uvarint(), start: d.Varint(), maxAt: d.Varint()}
			if d.Err() != nil || bk.id >= p.nextID || (i > 0 && bk.id <= p.buckets[i-1].id) {
				return errCorrupt
			}
			nk := d.Count()
			bk.keys = make([]key, 0, nk)
			for range nk {
				k := key{d.Uint64(), d.Uint64()}
				switch d.Byte() {
				case 0:
				case 1:
					if p.has(k) {
						return errCorrupt // a key lives in one bucket
					}
					p.seen[k] = entry{at: d.Varint(), bucket: bk.id}
				default:
					return errCorrupt
				}
				if d.Err() != nil {
					return errCorrupt
				}
				bk.keys = append(bk.keys, k)
			}
			p.entries += len(bk.keys)
			p.buckets = append(p.buckets, bk)
		}
		if d.Err() != nil {
			return errCorrupt
		}
		keys += int64(len(p.seen))
		parts[id] = p
	}
	if d.Err() != nil || d.Len() != 0 {
		return errCorrupt
	}
	f.partsMu.Lock()
	f.parts.Store(&parts)
	f.partsMu.Unlock()
	f.keys.Store(keys)
	return nil
}
