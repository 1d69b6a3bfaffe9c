package analytics

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/stream"
)

// Options configure an Aggregator.
type Options struct {
	// Retention is how many minutes of buckets are kept, ending at the
	// current minute; older buckets are dropped. 0 means 7 days.
	Retention time.Duration
	// MaxFutureSkew accepts event times up to this far after now (the
	// ingest API accepts 24h). 0 means 25h.
	MaxFutureSkew time.Duration
	// AttributionWindow is how long after an impression an event may be
	// attributed to it (event time minus impression time). 0 means 1h.
	AttributionWindow time.Duration
	// MaxOpenImpressions bounds the impressions remembered for attribution;
	// beyond it the oldest are forgotten early. 0 means 100,000.
	MaxOpenImpressions int
	// Now is the clock (retention, eviction). nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Retention == 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.MaxFutureSkew == 0 {
		o.MaxFutureSkew = 25 * time.Hour
	}
	if o.AttributionWindow == 0 {
		o.AttributionWindow = time.Hour
	}
	if o.MaxOpenImpressions == 0 {
		o.MaxOpenImpressions = 100_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Retention < time.Minute {
		errs = append(errs, fmt.Errorf("Retention %v < 1m", o.Retention))
	}
	if o.MaxFutureSkew < 0 {
		errs = append(errs, fmt.Errorf("MaxFutureSkew %v < 0", o.MaxFutureSkew))
	}
	if o.AttributionWindow < 0 {
		errs = append(errs, fmt.Errorf("AttributionWindow %v < 0", o.AttributionWindow))
	}
	if o.MaxOpenImpressions < 0 {
		errs = append(errs, fmt.Errorf("MaxOpenImpressions %d < 0", o.MaxOpenImpressions))
	}
	return errors.Join(errs...)
}

// Counters are the impression-side counts of one minute and one group. For a
// candidate source, Lists, ClickedLists and ConvertedLists stay 0 (a list
// has many sources); the other fields count the source's items.
type Counters struct {
	Lists          int64
	ItemsShown     int64
	ClickedLists   int64
	Clicks         int64
	ClickedItems   int64
	AddToCarts     int64
	Purchases      int64
	ConvertedLists int64
	RevenueMicros  int64
}

// bucket is one minute. Exported fields are the snapshot.
type bucket struct {
	Events        map[string]int64 // by event type name
	Purchases     int64            // every purchase event
	RevenueMicros int64            // of every purchase event
	Fallbacks     map[string]int64
	All           Counters
	ByVariant     map[string]*Counters
	BySource      map[string]*Counters
}

func newBucket() *bucket {
	return &bucket{Events: map[string]int64{}, Fallbacks: map[string]int64{},
		ByVariant: map[string]*Counters{}, BySource: map[string]*Counters{}}
}

func (b *bucket) variant(k string) *Counters {
	c := b.ByVariant[k]
	if c == nil {
		c = &Counters{}
		b.ByVariant[k] = c
	}
	return c
}

func (b *bucket) source(k string) *Counters {
	c := b.BySource[k]
	if c == nil {
		c = &Counters{}
		b.BySource[k] = c
	}
	return c
}

// openKey identifies a served list for attribution.
type openKey struct {
	RequestID string
	UserID    string
}

// openImp is a served list that later events may still be attributed to.
type openImp struct {
	Key       openKey
	Minute    int64
	Time      int64
	Variant   string
	Products  []string
	Sources   []string
	Clicked   []bool // per item
	AnyClick  bool
	Converted bool
}

// Stats are the Aggregator's own counters.
type Stats struct {
	Buckets         int   // minutes held
	OpenImpressions int   // lists held for attribution
	OutOfRange      int64 // records outside the retention or too far in the future, ignored
	EvictedEarly    int64 // lists forgotten because MaxOpenImpressions was reached
}

// Aggregator keeps per-minute business metrics from the log. It is a
// stream.State: Apply is safe for concurrent use (one goroutine per log
// partition); Snapshot and Restore save and load everything but latency.
// Series and ObserveLatency are safe for concurrent use with everything.
type Aggregator struct {
	opt Options

	mu          sync.Mutex
	buckets     map[int64]*bucket
	open        map[openKey]*openImp
	queue       []*openImp // open lists in arrival order (FIFO eviction)
	qhead       int
	lastPrune   int64 // now-minute of the last prune
	outOfRange  int64
	evictedEarl int64

	latMu   sync.Mutex
	latency map[int64]*Sketch
}

var _ stream.State = (*Aggregator)(nil)

// New returns an empty Aggregator.
func New(o Options) (*Aggregator, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("analytics options: %w", err)
	}
	return &Aggregator{opt: o, buckets: map[int64]*bucket{}, open: map[openKey]*openImp{},
		latency: map[int64]*Sketch{}, lastPrune: math.MinInt64}, nil
}

// Minute is the minute of a Unix-millisecond time: floor(ms / 60000).
func Minute(ms int64) int64 {
	m := ms / 60000
	if ms%60000 < 0 {
		m--
	}
	return m
}

// RevenueMicros is the revenue of a purchase in millionths: round(price x
// 1e6) x quantity. A price < 0 (not given) counts as 0, a quantity < 1 as 1.
func RevenueMicros(price float64, quantity int32) int64 {
	if !(price > 0) || math.IsInf(price, 0) {
		return 0
	}
	q := int64(quantity)
	if q < 1 {
		q = 1
	}
	return int64(math.Round(price*1e6)) * q
}

// VariantKey names an experiment variant in series: "experiment/variant",
// or "none" when the list was served outside any experiment.
func VariantKey(experiment, variant string) string {
	if experiment == "" && variant == "" {
		return "none"
	}
	return experiment + "/" + variant
}

// SourceKey names a candidate source in series ("none" when empty).
func SourceKey(source string) string {
	if source == "" {
		return "none"
	}
	return source
}

// window returns the minutes accepted now: [lo, hi].
func (a *Aggregator) window(now time.Time) (lo, hi int64) {
	nm := Minute(now.UnixMilli())
	lo = nm - int64(a.opt.Retention/time.Minute) + 1
	hi = Minute(now.Add(a.opt.MaxFutureSkew).UnixMilli())
	return lo, hi
}

// prune drops buckets and open lists that left the window. a.mu is held.
func (a *Aggregator) prune(now time.Time) {
	nm := Minute(now.UnixMilli())
	if nm == a.lastPrune {
		return
	}
	a.lastPrune = nm
	lo, _ := a.window(now)
	for m := range a.buckets {
		if m < lo {
			delete(a.buckets, m)
		}
	}
	// Lists whose attribution window has closed, with an hour of grace for
	// events that arrive late in the log.
	limit := now.UnixMilli() - (a.opt.AttributionWindow + time.Hour).Milliseconds()
	for a.qhead < len(a.queue) {
		im := a.queue[a.qhead]
		if im.Time >= limit && im.Minute >= lo {
			break
		}
		a.popOpen()
	}
	a.latMu.Lock()
	for m := range a.latency {
		if m < lo {
			delete(a.latency, m)
		}
	}
	a.latMu.Unlock()
}

func (a *Aggregator) popOpen() {
	im := a.queue[a.qhead]
	a.queue[a.qhead] = nil
	a.qhead++
	delete(a.open, im.Key)
	if a.qhead > 1024 && a.qhead*2 > len(a.queue) {
		a.queue = append(a.queue[:0:0], a.queue[a.qhead:]...)
		a.qhead = 0
	}
}

func (a *Aggregator) bucketAt(m int64) *bucket {
	b := a.buckets[m]
	if b == nil {
		b = newBucket()
		a.buckets[m] = b
	}
	return b
}

// Apply counts one log record. Safe for concurrent use; records of one user
// must be applied in log order (the stream processor does).
func (a *Aggregator) Apply(r *event.Record) {
	now := a.opt.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.prune(now)
	lo, hi := a.window(now)
	switch r.Kind {
	case event.KindEvent:
		a.applyEvent(&r.Event, lo, hi)
	case event.KindImpression:
		a.applyImpression(&r.Impression, lo, hi)
	}
}

func (a *Aggregator) applyImpression(im *event.Impression, lo, hi int64) {
	m := Minute(im.Time)
	if m < lo || m > hi {
		a.outOfRange++
		return
	}
	b := a.bucketAt(m)
	vk := VariantKey(im.Experiment, im.Variant)
	v := b.variant(vk)
	n := int64(len(im.Items))
	b.All.Lists++
	b.All.ItemsShown += n
	v.Lists++
	v.ItemsShown += n
	for i := range im.Items {
		b.source(SourceKey(im.Items[i].Source)).ItemsShown++
	}
	if im.Fallback != "" {
		b.Fallbacks[im.Fallback]++
	}
	if im.RequestID == "" {
		return
	}
	k := openKey{RequestID: im.RequestID, UserID: im.UserID}
	if _, dup := a.open[k]; dup {
		return // the first list with this request id keeps the attribution
	}
	o := &openImp{Key: k, Minute: m, Time: im.Time, Variant: vk,
		Products: make([]string, len(im.Items)), Sources: make([]string, len(im.Items)),
		Clicked: make([]bool, len(im.Items))}
	for i := range im.Items {
		o.Products[i] = im.Items[i].ProductID
		o.Sources[i] = SourceKey(im.Items[i].Source)
	}
	a.open[k] = o
	a.queue = append(a.queue, o)
	for len(a.open) > a.opt.MaxOpenImpressions {
		a.popOpen()
		a.evictedEarl++
	}
}

func (a *Aggregator) applyEvent(e *event.Event, lo, hi int64) {
	m := Minute(e.Time)
	if m >= lo && m <= hi {
		b := a.bucketAt(m)
		b.Events[e.Type.String()]++
		if e.Type == event.Purchase {
			b.Purchases++
			b.RevenueMicros += RevenueMicros(e.Price, e.Quantity)
		}
	} else {
		a.outOfRange++
	}
	if e.RequestID == "" || (e.Type != event.Click && e.Type != event.AddToCart && e.Type != event.Purchase) {
		return
	}
	o := a.open[openKey{RequestID: e.RequestID, UserID: e.UserID}]
	if o == nil || e.Time-o.Time > a.opt.AttributionWindow.Milliseconds() {
		return
	}
	b := a.buckets[o.Minute]
	if b == nil {
		return // the list's minute left the retention
	}
	v := b.variant(o.Variant)
	idx := -1
	for i, p := range o.Products {
		if p == e.ProductID {
			idx = i
			break
		}
	}
	var s *Counters
	if idx >= 0 {
		s = b.source(o.Sources[idx])
	}
	switch e.Type {
	case event.Click:
		b.All.Clicks++
		v.Clicks++
		if !o.AnyClick {
			o.AnyClick = true
			b.All.ClickedLists++
			v.ClickedLists++
		}
		if s != nil {
			s.Clicks++
			if !o.Clicked[idx] {
				o.Clicked[idx] = true
				b.All.ClickedItems++
				v.ClickedItems++
				s.ClickedItems++
			}
		}
	case event.AddToCart:
		b.All.AddToCarts++
		v.AddToCarts++
		if s != nil {
			s.AddToCarts++
		}
	case event.Purchase:
		rev := RevenueMicros(e.Price, e.Quantity)
		b.All.Purchases++
		b.All.RevenueMicros += rev
		v.Purchases++
		v.RevenueMicros += rev
		if !o.Converted {
			o.Converted = true
			b.All.ConvertedLists++
			v.ConvertedLists++
		}
		if s != nil {
			s.Purchases++
			s.RevenueMicros += rev
		}
	}
}

// ObserveLatency records the duration of one recommend request served at
// t. Latency is not in the log, so it is not part of Snapshot: after a
// restart the latency series starts empty. Safe for concurrent use.
func (a *Aggregator) ObserveLatency(t time.Time, d time.Duration) {
	m := Minute(t.UnixMilli())
	lo, hi := a.window(a.opt.Now())
	if m < lo || m > hi {
		return
	}
	a.latMu.Lock()
	s := a.latency[m]
	if s == nil {
		s = &Sketch{}
		a.latency[m] = s
	}
	s.Add(d)
	a.latMu.Unlock()
}

// Stats returns the Aggregator's own counters.
func (a *Aggregator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Stats{Buckets: len(a.buckets), OpenImpressions: len(a.open),
		OutOfRange: a.outOfRange, EvictedEarly: a.evictedEarl}
}
