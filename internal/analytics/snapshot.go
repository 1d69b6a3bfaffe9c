package analytics

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"io"
	"math"
)

// snapshotVersion is bumped when the snapshot layout changes.
const snapshotVersion = 1

type snapshot struct {
	Version      int
	Buckets      map[int64]*bucket
	Open         []*openImp // arrival order
	OutOfRange   int64
	EvictedEarly int64
}

// Snapshot writes the buckets and the lists open for attribution (not the
// latency sketches). The stream processor calls it with Apply paused.
func (a *Aggregator) Snapshot(w io.Writer) error {
	a.mu.Lock()
	s := snapshot{Version: snapshotVersion, Buckets: a.buckets, Open: a.queue[a.qhead:],
		OutOfRange: a.outOfRange, EvictedEarly: a.evictedEarl}
	bw := bufio.NewWriter(w)
	err := gob.NewEncoder(bw).Encode(&s)
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("analytics snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("analytics snapshot: %w", err)
	}
	return nil
}

// Restore replaces the state with a snapshot written by Snapshot. Latency
// sketches are kept as they are (they are not in snapshots).
func (a *Aggregator) Restore(r io.Reader) error {
	var s snapshot
	if err := gob.NewDecoder(bufio.NewReader(r)).Decode(&s); err != nil {
		return fmt.Errorf("analytics restore: %w", err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("analytics restore: snapshot version %d, want %d", s.Version, snapshotVersion)
	}
	if s.Buckets == nil {
		s.Buckets = map[int64]*bucket{}
	}
	for m, b := range s.Buckets {
		if b == nil {
			delete(s.Buckets, m)
			continue
		}
		if b.Events == nil {
			b.Events = map[string]int64{}
		}
		if b.Fallbacks == nil {
			b.Fallbacks = map[string]int64{}
		}
		if b.ByVariant == nil {
			b.ByVariant = map[string]*Counters{}
		}
		if b.BySource == nil {
			b.BySource = map[string]*Counters{}
		}
	}
	open := make(map[openKey]*openImp, len(s.Open))
	queue := make([]*openImp, 0, len(s.Open))
	for _, o := range s.Open {
		if o == nil {
			continue
		}
		if len(o.Clicked) != len(o.Products) {
			o.Clicked = make([]bool, len(o.Products))
		}
		if len(o.Sources) != len(o.Products) {
			return fmt.Errorf("analytics restore: list %q has %d products and %d sources", o.Key.RequestID, len(o.Products), len(o.Sources))
		}
		open[o.Key] = o
		queue = append(queue, o)
	}
	a.mu.Lock()
	a.buckets, a.open, a.queue, a.qhead = s.Buckets, open, queue, 0
	a.outOfRange, a.evictedEarl = s.OutOfRange, s.EvictedEarly
	a.lastPrune = math.MinInt64
	a.mu.Unlock()
	return nil
}
