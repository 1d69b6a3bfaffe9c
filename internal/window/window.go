package window

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/offline"
)

// Sink receives sealed output. *offline.Store implements it. Writing the
// same (view or set, batch) again must replace the earlier write: the
// aggregator rewrites a batch after a crash, with the same content.
type Sink interface {
	// WriteRows writes the rows of a view as one batch.
	WriteRows(ctx context.Context, view, batch string, rows []offline.Row) error
	// WriteEvents writes events to offline.EventsSet (the archive) or
	// offline.LateEventsSet (the side output) as one batch.
	WriteEvents(ctx context.Context, set, batch string, evs []event.Event) error
}

var _ Sink = (*offline.Store)(nil)

// Hooks observe the aggregator; each must be fast and safe for concurrent use.
type Hooks struct {
	// OnLate counts events that arrived after their window closed (beyond
	// the allowed lateness). They go to the late_events side output.
	OnLate func(n int)
	// OnClosed counts window rows closed by the watermark.
	OnClosed func(n int)
	// OnFlush reports one written batch.
	OnFlush func(rows, events, late int, took time.Duration, err error)
}

// Options configure an Aggregator.
type Options struct {
	Size            time.Duration // window size; 0 means 5 minutes
	WatermarkDelay  time.Duration // watermark = newest event time - this; 0 means 10 s
	AllowedLateness time.Duration // a window closes when the watermark passes end + this; default 0
	// IdleTimeout is how long (processing time) a partition may deliver no
	// event before it stops holding the watermark back; 0 means 30 s, < 0
	// means never (the watermark then waits for every partition that ever
	// delivered). It must exceed the longest pause of a partition that
	// still has events to deliver, including a checkpoint, which pauses
	// every partition; see the package comment.
	IdleTimeout time.Duration
	// Now is the processing-time clock for IdleTimeout; nil means the
	// system's monotonic clock (immune to wall clock steps, and cheaper:
	// Apply reads it for every event).
	Now func() time.Time
	// Archive keeps every event for the raw events archive (offline.EventsSet).
	NoArchive bool
	// Name prefixes batch names ("stream" by default): one per aggregator
	// writing to a store.
	Name  string
	Hooks Hooks
}

func (o Options) withDefaults() Options {
	if o.Size == 0 {
		o.Size = 5 * time.Minute
	}
	if o.WatermarkDelay == 0 {
		o.WatermarkDelay = 10 * time.Second
	}
	if o.Name == "" {
		o.Name = "stream"
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 30 * time.Second
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Size < time.Millisecond {
		errs = append(errs, fmt.Errorf("window size %s < 1ms", o.Size))
	}
	if o.WatermarkDelay < 0 {
		errs = append(errs, fmt.Errorf("watermark delay %s < 0", o.WatermarkDelay))
	}
	if o.AllowedLateness < 0 {
		errs = append(errs, fmt.Errorf("allowed lateness %s < 0", o.AllowedLateness))
	}
	if strings.ContainsAny(o.Name, "/= ") {
		errs = append(errs, fmt.Errorf("name %q has /, = or a space", o.Name))
	}
	return errors.Join(errs...)
}

const nshards = 64

// agg is one user's aggregates in one window.
type agg struct {
	Total, Clicks, Purchases, Carts int64
	Cats                            map[string]struct{}
	First, Last                     int64
}

type shard struct {
	mu          sync.Mutex
	closedBelow int64                     // windows starting before this are closed
	open        map[int64]map[string]*agg // window start -> user -> aggregates
	closed      []offline.Row             // closed since the last seal
	late        []event.Event
	events      []event.Event // the archive, since the last seal
}

// sealed is the output of one epoch: fixed when a Snapshot seals it, so
// every rewrite after a crash writes the same bytes.
type sealed struct {
	Epoch  uint64
	Rows   []offline.Row
	Late   []event.Event
	Events []event.Event
}

// partition is the watermark state of one log partition. Only Apply calls
// for records of the partition write it (normally one goroutine); the
// padding keeps partitions off each other's cache lines.
type partition struct {
	max  atomic.Int64 // newest event time (Unix ms); noTime before the first event
	seen atomic.Int64 // processing time (Unix ms) of its last event
	_    [48]byte
}

// maxPartitions bounds the partition table: Record.Partition is taken
// modulo it (partitions folded together share one watermark).
const maxPartitions = 1 << 14

// Aggregator is the tumbling-window aggregator: a stream.State. See the
// package comment for how its output is exactly-once.
type Aggregator struct {
	opt          Options
	sink         Sink
	size, delay  int64
	lateness     int64
	idle         int64        // IdleTimeout in ms; < 0: never idle
	now          func() int64 // processing time in Unix ms
	recheckEvery int64        // ms between idleness checks while events arrive
	seed         maphash.Seed
	shards       [nshards]shard
	parts        atomic.Pointer[[]*partition] // by partition number; grown under partsMu
	partsMu      sync.Mutex
	wmTime       atomic.Int64 // the watermark plus the delay, as last advanced; never decreases
	recheck      atomic.Int64 // processing time (ms) of the next idleness check
	boundary     atomic.Int64 // windows starting before this are closed (target)
	closeMu      sync.Mutex   // serializes closing
	mu           sync.Mutex   // guards the fields below
	epoch        uint64       // the next epoch to seal
	sealed       []*sealed    // sealed, not yet written
	snapEpoch    uint64       // epochs below this were sealed by the last Snapshot
	durableEpoch uint64       // epochs below this are in a durable checkpoint: writable
	wake         chan struct{}
}

// New returns an aggregator writing to sink. It starts nothing: Run flushes.
func New(sink Sink, o Options) (*Aggregator, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("window options: %w", err)
	}
	a := &Aggregator{opt: o, sink: sink, size: o.Size.Milliseconds(), delay: o.WatermarkDelay.Milliseconds(),
		lateness: o.AllowedLateness.Milliseconds(), seed: maphash.MakeSeed(), wake: make(chan struct{}, 1)}
	a.idle, a.recheckEvery = -1, math.MaxInt64/2
	if o.IdleTimeout > 0 {
		a.idle = max(o.IdleTimeout.Milliseconds(), 1)
		a.recheckEvery = min(a.idle, 1000)
	}
	a.now = func() int64 { return o.Now().UnixMilli() }
	if o.Now == nil {
		start := time.Now()
		ms := start.UnixMilli()
		a.now = func() int64 { return ms + int64(time.Since(start)/time.Millisecond) }
	}
	a.parts.Store(new([]*partition))
	a.wmTime.Store(noTime)
	a.boundary.Store(noTime)
	for i := range a.shards {
		a.shards[i].open = map[int64]map[string]*agg{}
		a.shards[i].closedBelow = noTime
	}
	return a, nil
}

const noTime = -1 << 62

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Start is the start of the window holding t: windows are [start, start+size).
func (a *Aggregator) Start(t int64) int64 { return floorDiv(t, a.size) * a.size }

// Watermark is the current event-time watermark (Unix ms): the oldest of
// the newest event times of the partitions not idle, or the newest of all
// if every partition is idle, minus the delay; never below what windows
// were already closed by. Before any event it is very negative. It only
// reports: windows close as events arrive (and at Snapshot).
func (a *Aggregator) Watermark() int64 {
	w := max(a.wmTime.Load(), a.target(a.now()))
	if w == noTime {
		return noTime
	}
	return w - a.delay
}

// target is the watermark plus the delay at processing time now, before
// taking the maximum with the past: the minimum over the partitions that
// delivered an event within the idle timeout of their newest event time;
// if all are idle, the maximum over all; noTime before any event.
func (a *Aggregator) target(now int64) int64 {
	active, all := int64(math.MaxInt64), int64(noTime)
	for _, p := range *a.parts.Load() {
		if p == nil {
			continue
		}
		m := p.max.Load()
		if m == noTime {
			continue // never delivered: does not hold the watermark
		}
		all = max(all, m)
		if a.idle < 0 || now-p.seen.Load() < a.idle {
			active = min(active, m)
		}
	}
	if active != math.MaxInt64 {
		return active
	}
	return all
}

// advance raises the watermark to the target at now and closes the windows
// it passed.
func (a *Aggregator) advance(now int64) {
	t := a.target(now)
	w := a.wmTime.Load()
	for t > w && !a.wmTime.CompareAndSwap(w, t) {
		w = a.wmTime.Load()
	}
	w = max(w, t)
	if w == noTime {
		return
	}
	if b := a.closedBelowFor(w - a.delay); b > a.boundary.Load() {
		a.closeUpTo(b)
	}
}

// partition returns the watermark state of partition i, adding it if new.
func (a *Aggregator) partition(i int, now int64) *partition {
	i = int(uint(i) % maxPartitions)
	if ps := *a.parts.Load(); i < len(ps) && ps[i] != nil {
		return ps[i]
	}
	a.partsMu.Lock()
	defer a.partsMu.Unlock()
	ps := *a.parts.Load()
	if i < len(ps) && ps[i] != nil {
		return ps[i]
	}
	grown := make([]*partition, max(len(ps), i+1))
	copy(grown, ps)
	p := &partition{}
	p.max.Store(noTime)
	p.seen.Store(now)
	grown[i] = p
	a.parts.Store(&grown)
	return p
}

// closedBelowFor is the first window start still open at watermark w: a
// window [s, s+size) closes once w >= s + size + lateness.
func (a *Aggregator) closedBelowFor(w int64) int64 {
	return floorDiv(w-a.size-a.lateness, a.size)*a.size + a.size
}

// Apply adds one record. Only behaviour events matter; r.Partition says
// which partition's watermark the event moves. Safe for concurrent use;
// events of one user must come from one goroutine in order (as the stream
// processor does) for the archive to keep their order.
//
// The watermark is recomputed (a pass over the partitions) only when the
// event moves its partition's own watermark past a window closing, or at
// most once a second to notice partitions turning idle: a window can only
// close then, because the minimum over partitions crosses a closing only
// when the partition holding it does.
func (a *Aggregator) Apply(r *event.Record) {
	if r.Kind != event.KindEvent {
		return
	}
	e := &r.Event
	now := a.now()
	p := a.partition(r.Partition, now)
	if p.seen.Load() != now {
		p.seen.Store(now)
	}
	old := p.max.Load()
	for e.Time > old && !p.max.CompareAndSwap(old, e.Time) {
		old = p.max.Load()
	}
	check := e.Time > old && a.closedBelowFor(e.Time-a.delay) > a.closedBelowFor(old-a.delay)
	if next := a.recheck.Load(); now >= next && a.recheck.CompareAndSwap(next, now+a.recheckEvery) {
		check = true
	}
	if check {
		a.advance(now)
	}
	sh := &a.shards[maphash.String(a.seed, e.UserID)%nshards]
	start := a.Start(e.Time)
	sh.mu.Lock()
	if !a.opt.NoArchive {
		sh.events = append(sh.events, *e)
	}
	if start < sh.closedBelow {
		sh.late = append(sh.late, *e)
		sh.mu.Unlock()
		if h := a.opt.Hooks.OnLate; h != nil {
			h(1)
		}
		return
	}
	users := sh.open[start]
	if users == nil {
		users = map[string]*agg{}
		sh.open[start] = users
	}
	g := users[e.UserID]
	if g == nil {
		g = &agg{First: e.Time, Last: e.Time}
		users[e.UserID] = g
	}
	g.add(e)
	sh.mu.Unlock()
}

func (g *agg) add(e *event.Event) {
	g.Total++
	switch e.Type {
	case event.Click:
		g.Clicks++
	case event.Purchase:
		g.Purchases++
	case event.AddToCart:
		g.Carts++
	}
	if e.Category != "" {
		if g.Cats == nil {
			g.Cats = map[string]struct{}{}
		}
		g.Cats[e.Category] = struct{}{}
	}
	g.First = min(g.First, e.Time)
	g.Last = max(g.Last, e.Time)
}

// row is the user_features row of a closed window; its time is the end.
func (g *agg) row(user string, end int64) offline.Row {
	return offline.Row{Key: user, Time: end, Values: []offline.Value{
		offline.Int(g.Total), offline.Int(g.Clicks), offline.Int(g.Purchases), offline.Int(g.Carts),
		offline.Float(feature.Ratio(g.Purchases, g.Clicks)), offline.Int(int64(len(g.Cats))),
		offline.Int(g.First), offline.Int(g.Last),
	}}
}

// closeUpTo closes, in every shard, the windows starting before b.
func (a *Aggregator) closeUpTo(b int64) {
	a.closeMu.Lock()
	defer a.closeMu.Unlock()
	if b <= a.boundary.Load() {
		return
	}
	a.boundary.Store(b)
	n := 0
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		if b > sh.closedBelow {
			sh.closedBelow = b
			for start, users := range sh.open {
				if start >= b {
					continue
				}
				end := start + a.size
				for u, g := range users {
					sh.closed = append(sh.closed, g.row(u, end))
				}
				n += len(users)
				delete(sh.open, start)
			}
		}
		sh.mu.Unlock()
	}
	if h := a.opt.Hooks.OnClosed; h != nil && n > 0 {
		h(n)
	}
}

// seal moves everything closed since the last seal into a new epoch.
// Callers hold a.mu.
func (a *Aggregator) seal() {
	s := &sealed{Epoch: a.epoch}
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		s.Rows = append(s.Rows, sh.closed...)
		s.Late = append(s.Late, sh.late...)
		s.Events = append(s.Events, sh.events...)
		sh.closed, sh.late, sh.events = nil, nil, nil
		sh.mu.Unlock()
	}
	if len(s.Rows)+len(s.Late)+len(s.Events) == 0 {
		return
	}
	sort.Slice(s.Rows, func(i, j int) bool {
		if s.Rows[i].Time != s.Rows[j].Time {
			return s.Rows[i].Time < s.Rows[j].Time
		}
		return s.Rows[i].Key < s.Rows[j].Key
	})
	a.sealed = append(a.sealed, s)
	a.epoch++
}

// snapshot is the gob form of the state. Version 1 kept one watermark
// (MaxTime, the newest event time over all partitions); version 2 keeps
// the watermark and each partition's newest event time.
type snapshot struct {
	Version     int
	Size        int64
	MaxTime     int64   // version 1 only
	Watermark   int64   // the watermark plus the delay (version 2)
	Partitions  []int64 // newest event time by partition number, noTime if none (version 2)
	Boundary    int64
	Epoch       uint64
	ClosedBelow []int64
	Open        []openWindow
	Sealed      []*sealed
}

type openWindow struct {
	Start, First, Last              int64
	User                            string
	Total, Clicks, Purchases, Carts int64
	Cats                            []string
}

// Snapshot first advances the watermark to the present (closing the
// windows that idle partitions no longer hold open), then seals the output
// closed since the last Snapshot into a new epoch and writes the state:
// open windows, the watermark and each partition's newest event time, and
// every sealed epoch not yet written. Call it with Apply paused (the
// stream processor's checkpoint does); then call Committed once the
// checkpoint is durable.
func (a *Aggregator) Snapshot(w io.Writer) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.advance(a.now())
	a.seal()
	a.snapEpoch = a.epoch
	s := snapshot{Version: 2, Size: a.size, Watermark: a.wmTime.Load(), Boundary: a.boundary.Load(), Epoch: a.epoch, Sealed: a.sealed}
	for _, p := range *a.parts.Load() {
		m := int64(noTime)
		if p != nil {
			m = p.max.Load()
		}
		s.Partitions = append(s.Partitions, m)
	}
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		s.ClosedBelow = append(s.ClosedBelow, sh.closedBelow)
		starts := make([]int64, 0, len(sh.open))
		for st := range sh.open {
			starts = append(starts, st)
		}
		slices.Sort(starts)
		for _, st := range starts {
			for u, g := range sh.open[st] {
				ow := openWindow{Start: st, User: u, First: g.First, Last: g.Last, Total: g.Total, Clicks: g.Clicks,
					Purchases: g.Purchases, Carts: g.Carts}
				for c := range g.Cats {
					ow.Cats = append(ow.Cats, c)
				}
				slices.Sort(ow.Cats)
				s.Open = append(s.Open, ow)
			}
		}
		sh.mu.Unlock()
	}
	if err := gob.NewEncoder(w).Encode(&s); err != nil {
		return fmt.Errorf("window snapshot: %w", err)
	}
	return nil
}

// Restore replaces the state with a snapshot. Every sealed epoch in it is
// durable (it comes from a checkpoint), so the next Flush rewrites it:
// identical content under the same names, so nothing is duplicated.
//
// Each partition in the snapshot counts as having delivered an event at
// the time of the restore, so it holds the watermark for one IdleTimeout
// while the log is replayed. A version 1 snapshot has no partitions: its
// watermark becomes the floor, and partitions start anew.
func (a *Aggregator) Restore(r io.Reader) error {
	var s snapshot
	if err := gob.NewDecoder(r).Decode(&s); err != nil {
		return fmt.Errorf("window restore: %w", err)
	}
	if (s.Version != 1 && s.Version != 2) || len(s.ClosedBelow) != nshards {
		return fmt.Errorf("window restore: unknown snapshot version %d", s.Version)
	}
	if s.Size != a.size {
		return fmt.Errorf("window restore: snapshot has %d ms windows, configured %d ms", s.Size, a.size)
	}
	if len(s.Partitions) > maxPartitions {
		return fmt.Errorf("window restore: %d partitions", len(s.Partitions))
	}
	wm := s.Watermark
	if s.Version == 1 {
		wm = s.MaxTime
	}
	now := a.now()
	parts := make([]*partition, len(s.Partitions))
	for i, m := range s.Partitions {
		if m == noTime {
			continue
		}
		p := &partition{}
		p.max.Store(m)
		p.seen.Store(now)
		parts[i] = p
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.partsMu.Lock()
	a.parts.Store(&parts)
	a.partsMu.Unlock()
	a.wmTime.Store(wm)
	a.recheck.Store(now + a.recheckEvery)
	a.boundary.Store(s.Boundary)
	a.epoch, a.snapEpoch, a.durableEpoch = s.Epoch, s.Epoch, s.Epoch
	a.sealed = s.Sealed
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		sh.closedBelow = s.ClosedBelow[i]
		sh.open = map[int64]map[string]*agg{}
		sh.closed, sh.late, sh.events = nil, nil, nil
		sh.mu.Unlock()
	}
	for _, ow := range s.Open {
		sh := &a.shards[maphash.String(a.seed, ow.User)%nshards]
		users := sh.open[ow.Start]
		if users == nil {
			users = map[string]*agg{}
			sh.open[ow.Start] = users
		}
		g := agg{Total: ow.Total, Clicks: ow.Clicks, Purchases: ow.Purchases, Carts: ow.Carts, First: ow.First, Last: ow.Last}
		if len(ow.Cats) > 0 {
			g.Cats = make(map[string]struct{}, len(ow.Cats))
			for _, c := range ow.Cats {
				g.Cats[c] = struct{}{}
			}
		}
		users[ow.User] = &g
	}
	a.signal()
	return nil
}

// Committed tells the aggregator that the checkpoint holding its last
// Snapshot is durable, so the epochs it sealed may be written. Wire it to
// stream.Hooks.OnCheckpoint when err == nil. It does no I/O.
func (a *Aggregator) Committed() {
	a.mu.Lock()
	a.durableEpoch = a.snapEpoch
	a.mu.Unlock()
	a.signal()
}

func (a *Aggregator) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Pending reports the sealed epochs not yet written and how many of them
// are writable.
func (a *Aggregator) Pending() (sealedEpochs, durable int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.sealed {
		if s.Epoch < a.durableEpoch {
			durable++
		}
	}
	return len(a.sealed), durable
}

func (a *Aggregator) batch(epoch uint64) string { return fmt.Sprintf("%s-%012d", a.opt.Name, epoch) }

// Flush writes every durable sealed epoch to the sink, oldest first, and
// forgets each one written. Safe to call concurrently with Apply and
// Snapshot; concurrent Flush calls may write an epoch twice (harmless).
func (a *Aggregator) Flush(ctx context.Context) error {
	a.mu.Lock()
	var todo []*sealed
	for _, s := range a.sealed {
		if s.Epoch < a.durableEpoch {
			todo = append(todo, s)
		}
	}
	a.mu.Unlock()
	for _, s := range todo {
		start := time.Now()
		err := a.write(ctx, s)
		if h := a.opt.Hooks.OnFlush; h != nil {
			h(len(s.Rows), len(s.Events), len(s.Late), time.Since(start), err)
		}
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.sealed = slices.DeleteFunc(a.sealed, func(x *sealed) bool { return x == s })
		a.mu.Unlock()
	}
	return nil
}

func (a *Aggregator) write(ctx context.Context, s *sealed) error {
	name := a.batch(s.Epoch)
	if len(s.Rows) > 0 {
		if err := a.sink.WriteRows(ctx, offline.UserFeatures, name, s.Rows); err != nil {
			return fmt.Errorf("window flush epoch %d: %w", s.Epoch, err)
		}
	}
	if len(s.Late) > 0 {
		if err := a.sink.WriteEvents(ctx, offline.LateEventsSet, name, s.Late); err != nil {
			return fmt.Errorf("window flush epoch %d: %w", s.Epoch, err)
		}
	}
	if len(s.Events) > 0 {
		if err := a.sink.WriteEvents(ctx, offline.EventsSet, name, s.Events); err != nil {
			return fmt.Errorf("window flush epoch %d: %w", s.Epoch, err)
		}
	}
	return nil
}

// Run flushes whenever Committed or Restore makes epochs writable (and
// retries a failed flush every retry interval) until ctx ends; then it
// tries one last flush with a fresh 10 s deadline. Errors go to onErr.
func (a *Aggregator) Run(ctx context.Context, retry time.Duration, onErr func(error)) error {
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
			err := a.Flush(fctx)
			if err != nil && onErr != nil {
				onErr(err)
			}
			return nil
		case <-a.wake:
		case <-t.C:
		}
		if err := a.Flush(ctx); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

// SnapshotProducts writes the daily product_features snapshot: one row per
// product with timestamp at, popularity decayed to at. The batch is named
// after the date, so calling it again the same day replaces that day's
// snapshot. It returns the number of rows.
func SnapshotProducts(ctx context.Context, sink Sink, at time.Time, o feature.Options, products iter.Seq[*feature.Product]) (int, error) {
	o = o.WithDefaults()
	ms := at.UnixMilli()
	var rows []offline.Row
	for p := range products {
		f := p.Features(ms, &o)
		vals := []offline.Value{offline.Str(f.Category), offline.Null, offline.Float(f.PopularityScore),
			offline.Float(f.ConversionRate), offline.Null, offline.Null}
		if f.Price != nil {
			vals[1] = offline.Float(*f.Price)
		}
		if f.AvgRating != nil {
			vals[4] = offline.Float(*f.AvgRating)
		}
		if f.InventoryLevel != nil {
			vals[5] = offline.Int(*f.InventoryLevel)
		}
		rows = append(rows, offline.Row{Key: p.ID, Time: ms, Values: vals})
	}
	if len(rows) == 0 {
		return 0, nil
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	batch := "daily-" + at.UTC().Format("20060102")
	if err := sink.WriteRows(ctx, offline.ProductFeatures, batch, rows); err != nil {
		return 0, fmt.Errorf("product snapshot: %w", err)
	}
	return len(rows), nil
}
