package dedupe

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/stream"
)

// Options configure a Filter.
type Options struct {
	// Window is how long, in ingest time, a key is remembered after it was
	// last seen. 0 means 10 minutes.
	Window time.Duration
	// MaxKeys bounds the keys held for one log partition. Beyond it the
	// partition's oldest quarter-window of keys is forgotten early, and a
	// retry of one of those events is counted again. 0 means 1,000,000
	// (about 100 MB when full).
	MaxKeys int
	// Skip, if set, names keys that are neither remembered nor dropped:
	// those of imports, say, which the importer already deduplicates and
	// which would only crowd out the keys of live retries. It must be a
	// pure function of the key (decisions must replay identically).
	Skip  func(sourceKey string) bool
	Hooks Hooks
}

// Hooks observe a Filter; each must be fast and safe for concurrent use.
type Hooks struct {
	// OnDuplicate reports n events dropped as repeats.
	OnDuplicate func(n int)
}

// DefaultWindow and DefaultMaxKeys are what zero Options mean.
const (
	DefaultWindow  = 10 * time.Minute
	DefaultMaxKeys = 1_000_000
)

func (o Options) withDefaults() Options {
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Window < 0 {
		errs = append(errs, fmt.Errorf("Window %v < 0", o.Window))
	} else if o.Window > 0 && o.Window < 4*time.Millisecond {
		errs = append(errs, fmt.Errorf("Window %v is shorter than 4ms", o.Window))
	}
	if o.MaxKeys < 0 {
		errs = append(errs, fmt.Errorf("MaxKeys %d < 0", o.MaxKeys))
	}
	return errors.Join(errs...)
}

// Filter is a stream.State that drops events whose (user, event_id) it
// saw within the window. Apply is safe for concurrent calls; records of one
// partition must be applied in log order (the stream processor does).
// Snapshot and Restore must not run concurrently with Apply (the processor
// pauses applying while it checkpoints).
type Filter struct {
	opt       Options
	window    int64 // ms
	width     int64 // bucket width, ms
	perBucket int   // keys per bucket at most

	partsMu sync.Mutex                    // serialises adding a partition
	parts   atomic.Pointer[map[int]*part] // copy on write: read without a lock

	keys      atomic.Int64
	dropped   atomic.Int64
	forgotten atomic.Int64
}

var (
	_ stream.State       = (*Filter)(nil)
	_ stream.StartsEmpty = (*Filter)(nil)
)

// New returns an empty Filter.
func New(o Options) (*Filter, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("dedupe options: %w", err)
	}
	o = o.withDefaults()
	f := &Filter{opt: o, window: o.Window.Milliseconds()}
	f.width = max(1, f.window/4)
	f.perBucket = max(1, o.MaxKeys/4)
	f.parts.Store(&map[int]*part{})
	return f, nil
}

// Options returns the filter's options with defaults filled.
func (f *Filter) Options() Options { return f.opt }

// StartsEmpty reports that a checkpoint written before the filter existed
// may be restored without it: an empty filter only risks counting a retry
// that arrives right after the upgrade. See stream.StartsEmpty.
func (f *Filter) StartsEmpty() bool { return true }

// Stats describe a Filter.
type Stats struct {
	Keys       int64 // keys held now, over all partitions
	Duplicates int64 // events dropped since the filter was made
	Forgotten  int64 // keys dropped before their window ended, because of MaxKeys
}

// Stats returns the current counts. Safe for concurrent use.
func (f *Filter) Stats() Stats {
	return Stats{Keys: f.keys.Load(), Duplicates: f.dropped.Load(), Forgotten: f.forgotten.Load()}
}

// Apply drops r (sets r.Kind to 0) if it is an event with a SourceKey that
// its user sent within the window; otherwise it remembers the key and
// leaves r alone. Records of other kinds and events without a SourceKey
// pass untouched, without a lock.
func (f *Filter) Apply(r *event.Record) {
	if r.Kind != event.KindEvent || r.Event.SourceKey == "" {
		return
	}
	if f.opt.Skip != nil && f.opt.Skip(r.Event.SourceKey) {
		return
	}
	p := f.part(r.Partition)
	k := hashKey(r.Event.UserID, r.Event.SourceKey)
	p.mu.Lock()
	dup, added, forgotten := p.see(f, k, r.Event.Ingested)
	p.mu.Unlock()
	if added != 0 {
		f.keys.Add(added)
	}
	if forgotten != 0 {
		f.forgotten.Add(forgotten)
	}
	if dup {
		r.Kind = 0
		f.dropped.Add(1)
		if h := f.opt.Hooks.OnDuplicate; h != nil {
			h(1)
		}
	}
}

// key is a 128-bit hash of (user, event_id).
type key [2]uint64

// hashKey hashes the user and the key, length-prefixed so that no two
// pairs share an input. SHA-256 is fixed forever (keys are checkpointed)
// and resists crafted collisions between users.
func hashKey(user, sourceKey string) key {
	var buf [512]byte
	b := binary.AppendUvarint(buf[:0], uint64(len(user)))
	b = append(b, user...)
	b = append(b, sourceKey...)
	sum := sha256.Sum256(b)
	return key{binary.LittleEndian.Uint64(sum[0:]), binary.LittleEndian.Uint64(sum[8:])}
}

func (f *Filter) part(id int) *part {
	if p := (*f.parts.Load())[id]; p != nil {
		return p
	}
	f.partsMu.Lock()
	defer f.partsMu.Unlock()
	old := *f.parts.Load()
	if p := old[id]; p != nil {
		return p
	}
	p := newPart()
	m := maps.Clone(old)
	m[id] = p
	f.parts.Store(&m)
	return p
}

// part is the memory of one log partition.
type part struct {
	mu      sync.Mutex
	seen    map[key]entry
	buckets []*bucket // oldest first; the last one takes new keys
	nextID  uint64
	entries int   // keys listed in the buckets, stale ones included
	newest  int64 // newest ingest time seen
	spare   []key // the key slice of a forgotten bucket, for reuse
}

// entry is what is remembered of a key: its newest ingest time, and the
// bucket that holds it.
type entry struct {
	at     int64
	bucket uint64
}

// bucket holds the keys first seen, or last refreshed, in one stretch of
// ingest time. A refreshed key moves to the newest bucket and stays listed,
// stale, in its old one until that is forgotten.
type bucket struct {
	id    uint64
	start int64 // ingest time of its first key: its generation is start/width
	maxAt int64 // newest time of a key it holds
	keys  []key
}

func newPart() *part { return &part{seen: map[key]entry{}} }

// see records k at ingest time at and says whether it is a repeat. It
// returns the change in keys held and the keys forgotten early.
func (p *part) see(f *Filter, k key, at int64) (dup bool, added, forgotten int64) {
	e, ok := p.seen[k]
	if ok && at-e.at <= f.window && e.at-at <= f.window {
		dup = true
	}
	if !ok {
		added = 1
	}
	p.newest = max(p.newest, at)
	b := p.current(f, at)
	e.at = max(e.at, at)
	if !ok || e.bucket != b.id {
		e.bucket = b.id
		b.keys = append(b.keys, k)
		p.entries++
	}
	b.maxAt = max(b.maxAt, e.at)
	p.seen[k] = e
	gone, early := p.evict(f)
	return dup, added - gone, early
}

// current returns the bucket that takes a key seen at at, starting a new
// one when at is in a later generation or the newest bucket is full.
func (p *part) current(f *Filter, at int64) *bucket {
	if n := len(p.buckets); n > 0 {
		b := p.buckets[n-1]
		if at/f.width <= b.start/f.width && len(b.keys) < f.perBucket {
			return b
		}
	}
	b := &bucket{id: p.nextID, start: at, maxAt: at, keys: p.spare[:0]}
	p.spare = nil
	p.nextID++
	p.buckets = append(p.buckets, b)
	return b
}

// evict forgets the oldest buckets while they are out of the window, or
// while the partition holds more than MaxKeys keys (or lists more than
// twice that, counting the stale places of refreshed keys). The newest
// bucket stays. It returns the keys forgotten, and how many of them went
// early.
func (p *part) evict(f *Filter) (gone, early int64) {
	for len(p.buckets) > 1 {
		b := p.buckets[0]
		expired := b.maxAt < p.newest-f.window
		if !expired && len(p.seen) <= f.opt.MaxKeys && p.entries <= 2*f.opt.MaxKeys {
			break
		}
		n := p.forget(b)
		gone += n
		if !expired {
			early += n
		}
	}
	return gone, early
}

// forget drops the oldest bucket and the keys it holds.
func (p *part) forget(b *bucket) int64 {
	var n int64
	for _, k := range b.keys {
		if e, ok := p.seen[k]; ok && e.bucket == b.id {
			delete(p.seen, k)
			n++
		}
	}
	p.entries -= len(b.keys)
	p.buckets[0] = nil
	p.buckets = p.buckets[1:]
	p.spare = b.keys
	return n
}
