package experiment

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/recohq/reco/internal/event"
)

// Options tune an Accumulator and its Results. Zero values mean the
// defaults.
type Options struct {
	// Window is the attribution window: an event without a request id is
	// attributed to the user's latest exposure in each experiment if it
	// happened within Window after it, and request ids are remembered this
	// long (by event time). 0 means 24h.
	Window time.Duration
	// PendingTTL is how long (by event time) an event whose request id has
	// no exposure yet waits for its impression. 0 means 10m.
	PendingTTL time.Duration
	// MaxPending bounds the waiting events; the oldest are dropped first.
	// 0 means 100,000.
	MaxPending int
	// UserTTL is how long the pre-experiment behaviour of a user who does
	// nothing is kept. 0 means 30 days.
	UserTTL time.Duration
	// Confidence is the level of the fixed-horizon CIs and of the
	// significance flags. 0 means 0.95.
	Confidence float64
	// SequentialTau is the standard deviation of the normal mixing
	// distribution of the sequential test, on the relative-lift scale: the
	// test is most powerful for true lifts of about this size. 0 means 0.1
	// (10%).
	SequentialTau float64
}

func (o Options) withDefaults() Options {
	if o.Window <= 0 {
		o.Window = 24 * time.Hour
	}
	if o.PendingTTL <= 0 {
		o.PendingTTL = 10 * time.Minute
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 100000
	}
	if o.UserTTL <= 0 {
		o.UserTTL = 30 * 24 * time.Hour
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		o.Confidence = 0.95
	}
	if !(o.SequentialTau > 0) {
		o.SequentialTau = 0.1
	}
	return o
}

// The per-list outcome flags of an exposure.
const (
	flagClicked uint8 = 1 << iota
	flagCarted
	flagPurchased
)

// Exposure is one served list of an experiment, remembered within the
// attribution window. (Exported for gob only.)
type Exposure struct {
	Exp, Variant, User string
	Time               int64
	Flags              uint8
}

// UserStats is what an experiment knows of one user. (Exported for gob
// only.)
type UserStats struct {
	Variant  string
	Multi    bool  // exposed to more than one variant: left out of results
	First    int64 // time of the first exposure
	LastReq  string
	LastTime int64

	Lists, ClickedLists, CartLists, PurchaseLists int64
	Clicks, Carts, Orders                         int64
	Revenue                                       float64

	// Behaviour before the first exposure (the CUPED covariates).
	PreEvents, PrePurchases int64
	PreRevenue              float64
}

// UserPre is a user's behaviour so far, whatever the experiment. (Exported
// for gob only.)
type UserPre struct {
	Events, Purchases int64
	Revenue           float64
	Last              int64
}

// Pending is an event waiting for the impression of its request id.
// (Exported for gob only.)
type Pending struct {
	Type    event.Type
	User    string
	Time    int64
	Revenue float64
}

// QueueEntry orders exposures and pending events for eviction. (Exported
// for gob only.)
type QueueEntry struct {
	Req  string
	Time int64
}

// Accumulator turns log records into per-experiment, per-user exposure and
// outcome counts. Apply may be called from several goroutines; Snapshot,
// Restore and Results may be called at any time (they take the same lock).
//
// Attribution rules, in order:
//
//   - An impression with Experiment and Variant set is an exposure (one
//     served list). Impressions without them are ignored.
//   - A click, add_to_cart or purchase whose RequestID names a remembered
//     exposure is attributed to it.
//   - One whose RequestID names no exposure yet waits (PendingTTL,
//     MaxPending) for that impression, since the impression may be applied
//     later (it is queued before it reaches the log, and partitions are
//     applied concurrently); if it does not come, the event is dropped:
//     it answered a list outside any experiment, or one older than Window.
//   - One without RequestID is attributed, in every experiment the user is
//     in, to the user's latest exposure if the event happened within
//     Window after it (an event older than that latest exposure is not
//     attributed).
//
// Memory: exposures are remembered for Window by event time (evicted in
// arrival order once the newest time seen has moved Window past them);
// per-user state is kept per experiment for as long as the accumulator
// holds the experiment (see Forget), and pre-experiment behaviour for
// UserTTL after the user's last event.
type Accumulator struct {
	opt Options

	mu        sync.Mutex
	watermark int64 // newest record time applied (Unix ms)
	lastPrune int64
	exposures map[string]*Exposure
	expQueue  []QueueEntry
	pending   map[string][]Pending
	pendQueue []QueueEntry
	nPending  int
	users     map[string]*UserPre
	exps      map[string]map[string]*UserStats // experiment -> user -> stats
}

// NewAccumulator returns an empty Accumulator.
func NewAccumulator(opt Options) *Accumulator {
	a := &Accumulator{opt: opt.withDefaults()}
	a.reset()
	return a
}

func (a *Accumulator) reset() {
	a.watermark, a.lastPrune, a.nPending = 0, 0, 0
	a.exposures = map[string]*Exposure{}
	a.expQueue = nil
	a.pending = map[string][]Pending{}
	a.pendQueue = nil
	a.users = map[string]*UserPre{}
	a.exps = map[string]map[string]*UserStats{}
}

func revenueOf(e *event.Event) float64 {
	if e.Type != event.Purchase || e.Price < 0 {
		return 0
	}
	q := e.Quantity
	if q < 1 {
		q = 1
	}
	return e.Price * float64(q)
}

// Apply consumes one log record. It is safe for concurrent use; r is not
// retained.
func (a *Accumulator) Apply(r *event.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch r.Kind {
	case event.KindImpression:
		a.applyImpression(&r.Impression)
	case event.KindEvent:
		a.applyEvent(&r.Event)
	default:
		return
	}
	a.evict()
}

func (a *Accumulator) applyImpression(im *event.Impression) {
	a.watermark = max(a.watermark, im.Time)
	if im.Experiment == "" || im.Variant == "" || im.UserID == "" || im.RequestID == "" {
		return
	}
	if _, dup := a.exposures[im.RequestID]; dup {
		return
	}
	eu := a.exps[im.Experiment]
	if eu == nil {
		eu = map[string]*UserStats{}
		a.exps[im.Experiment] = eu
	}
	waiting := a.pending[im.RequestID]
	us := eu[im.UserID]
	if us == nil {
		us = &UserStats{Variant: im.Variant, First: im.Time}
		if p := a.users[im.UserID]; p != nil {
			us.PreEvents, us.PrePurchases, us.PreRevenue = p.Events, p.Purchases, p.Revenue
		}
		// Events that answer this very list were applied before it but
		// are not pre-experiment behaviour.
		for _, w := range waiting {
			if w.User == im.UserID {
				us.PreEvents--
				if w.Type == event.Purchase {
					us.PrePurchases--
					us.PreRevenue -= w.Revenue
				}
			}
		}
		eu[im.UserID] = us
	} else if us.Variant != im.Variant {
		us.Multi = true
	}
	us.Lists++
	if im.Time < us.First {
		us.First = im.Time
	}
	if us.LastReq == "" || im.Time >= us.LastTime {
		us.LastReq, us.LastTime = im.RequestID, im.Time
	}
	ex := &Exposure{Exp: im.Experiment, Variant: im.Variant, User: im.UserID, Time: im.Time}
	a.exposures[im.RequestID] = ex
	a.expQueue = append(a.expQueue, QueueEntry{im.RequestID, im.Time})
	if waiting != nil {
		delete(a.pending, im.RequestID)
		a.nPending -= len(waiting)
		for _, w := range waiting {
			a.attribute(ex, w.Type, w.Revenue)
		}
	}
}

func (a *Accumulator) applyEvent(e *event.Event) {
	a.watermark = max(a.watermark, e.Time)
	rev := revenueOf(e)
	if e.UserID != "" {
		p := a.users[e.UserID]
		if p == nil {
			p = &UserPre{}
			a.users[e.UserID] = p
		}
		p.Events++
		if e.Type == event.Purchase {
			p.Purchases++
			p.Revenue += rev
		}
		p.Last = max(p.Last, e.Time)
	}
	switch e.Type {
	case event.Click, event.AddToCart, event.Purchase:
	default:
		return
	}
	if e.RequestID != "" {
		if ex := a.exposures[e.RequestID]; ex != nil {
			if e.Time-ex.Time <= a.opt.Window.Milliseconds() {
				a.attribute(ex, e.Type, rev)
			}
			return
		}
		a.pending[e.RequestID] = append(a.pending[e.RequestID], Pending{Type: e.Type, User: e.UserID, Time: e.Time, Revenue: rev})
		a.pendQueue = append(a.pendQueue, QueueEntry{e.RequestID, e.Time})
		a.nPending++
		return
	}
	if e.UserID == "" {
		return
	}
	window := a.opt.Window.Milliseconds()
	for _, eu := range a.exps {
		us := eu[e.UserID]
		if us == nil || us.LastReq == "" || e.Time < us.LastTime || e.Time-us.LastTime > window {
			continue
		}
		if ex := a.exposures[us.LastReq]; ex != nil {
			a.attribute(ex, e.Type, rev)
		}
	}
}

func (a *Accumulator) attribute(ex *Exposure, t event.Type, rev float64) {
	us := a.exps[ex.Exp][ex.User]
	if us == nil {
		return
	}
	switch t {
	case event.Click:
		us.Clicks++
		if ex.Flags&flagClicked == 0 {
			ex.Flags |= flagClicked
			us.ClickedLists++
		}
	case event.AddToCart:
		us.Carts++
		if ex.Flags&flagCarted == 0 {
			ex.Flags |= flagCarted
			us.CartLists++
		}
	case event.Purchase:
		us.Orders++
		us.Revenue += rev
		if ex.Flags&flagPurchased == 0 {
			ex.Flags |= flagPurchased
			us.PurchaseLists++
		}
	}
}

// evict drops what fell out of the windows. Amortized O(1) per record, but
// for the hourly sweep of idle users.
func (a *Accumulator) evict() {
	// Exposures are kept one window longer than attribution needs: the
	// watermark is the newest time over every partition, applied
	// concurrently, so a partition running ahead must not evict what a
	// slower one is about to attribute (results would then depend on the
	// interleaving, and a replay could differ from the first run).
	window := a.opt.Window.Milliseconds()
	h := 0
	for h < len(a.expQueue) && a.expQueue[h].Time < a.watermark-2*window {
		q := a.expQueue[h]
		if ex := a.exposures[q.Req]; ex != nil && ex.Time == q.Time {
			delete(a.exposures, q.Req)
		}
		h++
	}
	a.expQueue = compact(a.expQueue, h)

	// The same slack for events waiting for their list.
	ttl := a.opt.PendingTTL.Milliseconds() + window
	h = 0
	for h < len(a.pendQueue) && (a.pendQueue[h].Time < a.watermark-ttl || a.nPending > a.opt.MaxPending) {
		q := a.pendQueue[h]
		if ws := a.pending[q.Req]; len(ws) > 0 {
			if len(ws) == 1 {
				delete(a.pending, q.Req)
			} else {
				a.pending[q.Req] = ws[1:]
			}
			a.nPending--
		}
		h++
	}
	a.pendQueue = compact(a.pendQueue, h)

	if a.watermark-a.lastPrune >= time.Hour.Milliseconds() {
		a.lastPrune = a.watermark
		cut := a.watermark - a.opt.UserTTL.Milliseconds()
		for u, p := range a.users {
			if p.Last < cut {
				delete(a.users, u)
			}
		}
	}
}

// compact drops the first h entries, copying when the dead prefix is over
// half the backing array so memory follows the live size.
func compact(q []QueueEntry, h int) []QueueEntry {
	if h == 0 {
		return q
	}
	if h == len(q) {
		return q[:0]
	}
	if h > cap(q)/2 {
		return append([]QueueEntry(nil), q[h:]...)
	}
	return q[h:]
}

// Forget drops everything the accumulator knows of one experiment.
func (a *Accumulator) Forget(expID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.exps, expID)
	for req, ex := range a.exposures {
		if ex.Exp == expID {
			delete(a.exposures, req)
		}
	}
}

// Stats reports the sizes of the accumulator's memory.
type Stats struct {
	Exposures, Pending, Users, ExperimentUsers int
}

// Stats returns the current sizes.
func (a *Accumulator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Stats{Exposures: len(a.exposures), Pending: a.nPending, Users: len(a.users)}
	for _, eu := range a.exps {
		s.ExperimentUsers += len(eu)
	}
	return s
}

// The snapshot format: the magic, one version byte, the length of the rest
// (uint64 little-endian, so a snapshot can sit inside a larger checkpoint
// and Restore reads exactly its own bytes), then a gob-encoded snapshotV1. A new layout gets a new version byte and a new struct;
// Restore keeps reading the old ones.
const (
	snapMagic   = "RECOEXPA"
	snapVersion = 1
)

type snapshotV1 struct {
	Watermark, LastPrune int64
	Exposures            map[string]*Exposure
	ExpQueue             []QueueEntry
	Pending              map[string][]Pending
	PendQueue            []QueueEntry
	Users                map[string]*UserPre
	Exps                 map[string]map[string]*UserStats
}

// Snapshot writes the whole state to w. It holds the lock while it writes,
// so call it where the stream processor checkpoints (applies paused) and
// write the result together with the log offsets: restoring both gives
// exactly-once counts.
func (a *Accumulator) Snapshot(w io.Writer) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := snapshotV1{Watermark: a.watermark, LastPrune: a.lastPrune, Exposures: a.exposures, ExpQueue: a.expQueue,
		Pending: a.pending, PendQueue: a.pendQueue, Users: a.users, Exps: a.exps}
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(&s); err != nil {
		return fmt.Errorf("experiment snapshot: %w", err)
	}
	head := make([]byte, 0, len(snapMagic)+9)
	head = append(head, snapMagic...)
	head = append(head, snapVersion)
	head = binary.LittleEndian.AppendUint64(head, uint64(body.Len()))
	if _, err := w.Write(head); err != nil {
		return fmt.Errorf("experiment snapshot: %w", err)
	}
	if _, err := body.WriteTo(w); err != nil {
		return fmt.Errorf("experiment snapshot: %w", err)
	}
	return nil
}

// Restore replaces the state by one written by Snapshot. On error the
// state is left as it was.
func (a *Accumulator) Restore(r io.Reader) error {
	head := make([]byte, len(snapMagic)+9)
	if _, err := io.ReadFull(r, head); err != nil {
		return fmt.Errorf("experiment restore: %w", err)
	}
	if string(head[:len(snapMagic)]) != snapMagic {
		return errors.New("experiment restore: not an experiment snapshot")
	}
	if head[len(snapMagic)] != snapVersion {
		return fmt.Errorf("experiment restore: unknown snapshot version %d", head[len(snapMagic)])
	}
	n := binary.LittleEndian.Uint64(head[len(snapMagic)+1:])
	body := make([]byte, 0, min(n, 1<<20))
	buf := bytes.NewBuffer(body)
	if m, err := io.CopyN(buf, r, int64(n)); err != nil {
		return fmt.Errorf("experiment restore: read %d of %d bytes: %w", m, n, err)
	}
	var s snapshotV1
	if err := gob.NewDecoder(buf).Decode(&s); err != nil {
		return fmt.Errorf("experiment restore: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reset()
	a.watermark, a.lastPrune = s.Watermark, s.LastPrune
	a.expQueue, a.pendQueue = s.ExpQueue, s.PendQueue
	for k, v := range s.Exposures {
		a.exposures[k] = v
	}
	for k, v := range s.Pending {
		a.pending[k] = v
		a.nPending += len(v)
	}
	for k, v := range s.Users {
		a.users[k] = v
	}
	for k, v := range s.Exps {
		if v == nil {
			v = map[string]*UserStats{}
		}
		a.exps[k] = v
	}
	return nil
}
