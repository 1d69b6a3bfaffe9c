package memstore

import (
	"cmp"
	"hash/maphash"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
)

const nShards = 64

// Options configure a Store.
type Options struct {
	Features feature.Options
	// MaxNeighbors bounds each item's co-visitation list; 0 means 100. When
	// a list grows past twice this, the weakest half is dropped.
	MaxNeighbors int
	// IndexPerCategory is how many products each category's popularity
	// index keeps; 0 means 200.
	IndexPerCategory int
	// IndexGlobal is how many products the global indexes keep; 0 means 500.
	IndexGlobal int
	// TrackDirty records which entities each Apply changed, for TakeDirty
	// (an external online store is written from it).
	TrackDirty bool
	Now        func() time.Time
}

func (o Options) withDefaults() Options {
	o.Features = o.Features.WithDefaults()
	if o.MaxNeighbors == 0 {
		o.MaxNeighbors = 100
	}
	if o.IndexPerCategory == 0 {
		o.IndexPerCategory = 200
	}
	if o.IndexGlobal == 0 {
		o.IndexGlobal = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Store is the in-memory state. Apply may be called concurrently, as long as
// each user's events come from one goroutine in order (the log partitions
// by user); Snapshot must not run concurrently with Apply, and Restore with
// anything. Every read method is safe for concurrent use.
type Store struct {
	opt      Options
	seed     maphash.Seed
	users    [nShards]userShard
	products [nShards]productShard
	covisit  [nShards]covShard
	index    atomic.Pointer[Index]

	lastIngested atomic.Int64 // ingest time of the newest applied event
	lastEvent    atomic.Int64 // event time of the newest applied event
	applied      atomic.Int64
}

type userShard struct {
	mu    sync.RWMutex
	m     map[string]*feature.User
	dirty map[string]struct{}
}

type productShard struct {
	mu    sync.RWMutex
	m     map[string]*feature.Product
	dirty map[string]struct{}
}

type covShard struct {
	mu    sync.RWMutex
	m     map[string]map[string]float32
	dirty map[string]struct{}
}

func markDirty(d *map[string]struct{}, id string, on bool) {
	if !on {
		return
	}
	if *d == nil {
		*d = map[string]struct{}{}
	}
	(*d)[id] = struct{}{}
}

// New returns an empty store.
func New(opt Options) *Store {
	s := &Store{opt: opt.withDefaults(), seed: maphash.MakeSeed()}
	for i := range s.users {
		s.users[i].m = make(map[string]*feature.User)
		s.products[i].m = make(map[string]*feature.Product)
		s.covisit[i].m = make(map[string]map[string]float32)
	}
	s.index.Store(&Index{ByCategory: map[string][]Scored{}})
	return s
}

// Options returns the store's options with defaults filled.
func (s *Store) Options() Options { return s.opt }

func (s *Store) shard(key string) int {
	return int(maphash.String(s.seed, key) % nShards)
}

// Apply applies one log record.
func (s *Store) Apply(r *event.Record) {
	switch r.Kind {
	case event.KindEvent:
		s.applyEvent(&r.Event)
	case event.KindProduct:
		s.applyProduct(&r.Product)
	case event.KindImpression:
		s.applyImpression(&r.Impression)
	}
	s.applied.Add(1)
}

func (s *Store) applyProduct(u *event.Product) {
	sh := &s.products[s.shard(u.ID)]
	sh.mu.Lock()
	p := sh.m[u.ID]
	if p == nil {
		p = feature.NewProduct(u.ID)
		sh.m[u.ID] = p
	}
	p.ApplyUpsert(u)
	markDirty(&sh.dirty, u.ID, s.opt.TrackDirty)
	sh.mu.Unlock()
}

func (s *Store) applyImpression(im *event.Impression) {
	if im.UserID != "" {
		sh := &s.users[s.shard(im.UserID)]
		sh.mu.Lock()
		if u := sh.m[im.UserID]; u != nil {
			u.Impressions++
			markDirty(&sh.dirty, im.UserID, s.opt.TrackDirty)
		}
		sh.mu.Unlock()
	}
	for i := range im.Items {
		id := im.Items[i].ProductID
		sh := &s.products[s.shard(id)]
		sh.mu.Lock()
		if p := sh.m[id]; p != nil {
			p.Impressions++
			markDirty(&sh.dirty, id, s.opt.TrackDirty)
		}
		sh.mu.Unlock()
	}
}

func (s *Store) applyEvent(e *event.Event) {
	o := &s.opt.Features
	psh := &s.products[s.shard(e.ProductID)]
	psh.mu.Lock()
	p := psh.m[e.ProductID]
	if p == nil {
		p = feature.NewProduct(e.ProductID)
		psh.m[e.ProductID] = p
	}
	p.ApplyEvent(e, o)
	markDirty(&psh.dirty, e.ProductID, s.opt.TrackDirty)
	cat := e.Category
	if cat == "" {
		cat = p.Category
	}
	price := e.Price
	if price < 0 {
		price = p.Price
	}
	psh.mu.Unlock()

	ush := &s.users[s.shard(e.UserID)]
	ush.mu.Lock()
	u := ush.m[e.UserID]
	if u == nil {
		u = &feature.User{ID: e.UserID}
		ush.m[e.UserID] = u
	}
	var buf [10]feature.Recent
	pairs := u.ApplyEvent(e, cat, price, o, buf[:0])
	markDirty(&ush.dirty, e.UserID, s.opt.TrackDirty)
	ush.mu.Unlock()

	if w := float32(o.Weight(e.Type)); w > 0 {
		for _, r := range pairs {
			rw := float32(o.Weight(r.Type))
			if rw <= 0 {
				continue
			}
			// A pair counts with the weaker of its two behaviours, so a
			// purchase after a view is "viewed together", not "bought together".
			pw := min(w, rw)
			s.addCovisit(r.Product, e.ProductID, pw)
			s.addCovisit(e.ProductID, r.Product, pw)
		}
	}
	if e.Ingested > 0 {
		s.lastIngested.Store(e.Ingested)
	}
	s.lastEvent.Store(e.Time)
}

func (s *Store) addCovisit(a, b string, w float32) {
	sh := &s.covisit[s.shard(a)]
	sh.mu.Lock()
	m := sh.m[a]
	if m == nil {
		m = make(map[string]float32, 8)
		sh.m[a] = m
	}
	m[b] += w
	if len(m) > 2*s.opt.MaxNeighbors {
		pruneNeighbors(m, s.opt.MaxNeighbors)
	}
	markDirty(&sh.dirty, a, s.opt.TrackDirty)
	sh.mu.Unlock()
}

// pruneNeighbors keeps the keep strongest entries of m (ties by id, so that
// replays prune identically).
func pruneNeighbors(m map[string]float32, keep int) {
	all := make([]Scored, 0, len(m))
	for k, v := range m {
		all = append(all, Scored{ID: k, Score: float64(v)})
	}
	sortScored(all)
	for _, sc := range all[keep:] {
		delete(m, sc.ID)
	}
}

// Scored is an item with a score.
type Scored struct {
	ID    string
	Score float64
}

func sortScored(s []Scored) {
	slices.SortFunc(s, func(a, b Scored) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// User returns a copy of the user's state, or false if the user is unknown.
func (s *Store) User(id string) (*feature.User, bool) {
	sh := &s.users[s.shard(id)]
	sh.mu.RLock()
	u := sh.m[id]
	var c *feature.User
	if u != nil {
		c = u.Clone(s.opt.Features.RecentItems)
	}
	sh.mu.RUnlock()
	return c, c != nil
}

// Products fills out[i] with a copy of products ids[i] (nil when unknown).
// Attributes are shared, not copied: callers must not modify them.
func (s *Store) Products(ids []string, out []*feature.Product) {
	buf := make([]feature.Product, len(ids)) // one allocation for the whole slate
	for i, id := range ids {
		sh := &s.products[s.shard(id)]
		sh.mu.RLock()
		if p := sh.m[id]; p != nil {
			buf[i] = *p
			out[i] = &buf[i]
		} else {
			out[i] = nil
		}
		sh.mu.RUnlock()
	}
}

// Product returns a copy of one product.
func (s *Store) Product(id string) (*feature.Product, bool) {
	var out [1]*feature.Product
	s.Products([]string{id}, out[:])
	return out[0], out[0] != nil
}

// CoVisitedMany is CoVisited for several items: out[i] belongs to ids[i].
func (s *Store) CoVisitedMany(ids []string, n int) [][]Scored {
	out := make([][]Scored, len(ids))
	for i, id := range ids {
		out[i] = s.CoVisited(id, n)
	}
	return out
}

// CoVisited returns up to n items most often seen with id, strongest first.
func (s *Store) CoVisited(id string, n int) []Scored {
	sh := &s.covisit[s.shard(id)]
	t := topK{k: n}
	sh.mu.RLock()
	for k, v := range sh.m[id] {
		t.push(Scored{ID: k, Score: float64(v)})
	}
	sh.mu.RUnlock()
	return t.sorted()
}

// Stats describe the store's size and freshness.
type Stats struct {
	Users, Products, CoVisitItems int
	Applied                       int64
	LastIngested, LastEventTime   int64 // Unix ms
}

// Stats counts the store's entities.
func (s *Store) Stats() Stats {
	st := Stats{Applied: s.applied.Load(), LastIngested: s.lastIngested.Load(), LastEventTime: s.lastEvent.Load()}
	for i := range s.users {
		s.users[i].mu.RLock()
		st.Users += len(s.users[i].m)
		s.users[i].mu.RUnlock()
		s.products[i].mu.RLock()
		st.Products += len(s.products[i].m)
		s.products[i].mu.RUnlock()
		s.covisit[i].mu.RLock()
		st.CoVisitItems += len(s.covisit[i].m)
		s.covisit[i].mu.RUnlock()
	}
	return st
}

// Dirty is what changed since the last TakeDirty: copies of the changed
// users and products, and each changed item's whole co-visitation list
// (strongest first, at most MaxNeighbors).
type Dirty struct {
	Users    []*feature.User
	Products []*feature.Product
	CoVisit  map[string][]Scored
}

// Len is the number of changed entities.
func (d *Dirty) Len() int { return len(d.Users) + len(d.Products) + len(d.CoVisit) }

// TakeDirty returns and forgets what changed (Options.TrackDirty). To pair
// the values with log offsets, call it while no Apply runs.
func (s *Store) TakeDirty() Dirty {
	d := Dirty{CoVisit: map[string][]Scored{}}
	for i := range s.users {
		sh := &s.users[i]
		sh.mu.Lock()
		for id := range sh.dirty {
			if u := sh.m[id]; u != nil {
				d.Users = append(d.Users, u.Clone(s.opt.Features.RecentItems))
			}
		}
		sh.dirty = nil
		sh.mu.Unlock()
	}
	for i := range s.products {
		sh := &s.products[i]
		sh.mu.Lock()
		for id := range sh.dirty {
			if p := sh.m[id]; p != nil {
				c := *p
				d.Products = append(d.Products, &c)
			}
		}
		sh.dirty = nil
		sh.mu.Unlock()
	}
	for i := range s.covisit {
		sh := &s.covisit[i]
		sh.mu.Lock()
		for id := range sh.dirty {
			t := topK{k: s.opt.MaxNeighbors}
			for k, v := range sh.m[id] {
				t.push(Scored{ID: k, Score: float64(v)})
			}
			d.CoVisit[id] = t.sorted()
		}
		sh.dirty = nil
		sh.mu.Unlock()
	}
	return d
}

// AllProducts yields a copy of every product (for snapshots); it holds one
// shard's read lock at a time.
func (s *Store) AllProducts() iter.Seq[*feature.Product] {
	return func(yield func(*feature.Product) bool) {
		for i := range s.products {
			sh := &s.products[i]
			sh.mu.RLock()
			batch := make([]*feature.Product, 0, len(sh.m))
			for _, p := range sh.m {
				c := *p
				batch = append(batch, &c)
			}
			sh.mu.RUnlock()
			for _, p := range batch {
				if !yield(p) {
					return
				}
			}
		}
	}
}

// ActiveUsers returns the ids of users whose last event is at or after
// since (Unix ms).
func (s *Store) ActiveUsers(since int64) []string {
	var out []string
	for i := range s.users {
		sh := &s.users[i]
		sh.mu.RLock()
		for id, u := range sh.m {
			if u.Last >= since {
				out = append(out, id)
			}
		}
		sh.mu.RUnlock()
	}
	return out
}

// MarkAllDirty marks every entity changed, so that the next TakeDirty
// returns the whole state (an external store that lost its data is
// rewritten from it).
func (s *Store) MarkAllDirty() {
	for i := range s.users {
		sh := &s.users[i]
		sh.mu.Lock()
		for id := range sh.m {
			markDirty(&sh.dirty, id, true)
		}
		sh.mu.Unlock()
		ps := &s.products[i]
		ps.mu.Lock()
		for id := range ps.m {
			markDirty(&ps.dirty, id, true)
		}
		ps.mu.Unlock()
		cs := &s.covisit[i]
		cs.mu.Lock()
		for id := range cs.m {
			markDirty(&cs.dirty, id, true)
		}
		cs.mu.Unlock()
	}
}
