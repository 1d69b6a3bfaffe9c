package featureview

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
)

const nShards = 64

// Options configure an Engine.
type Options struct {
	// Now is the clock of ViewsJSON when it is given a zero time; nil means
	// time.Now. Apply never reads it: state depends on event times only.
	Now func() time.Time
	// MaxDistinct caps the values each distinct_count / most_frequent map
	// keeps per entity; 0 means 1000. It changes state: part of the hash.
	MaxDistinct int
	// Offline receives the history of every view (see History in the
	// package comment); nil keeps no history.
	Offline Sink
	Hooks   Hooks
}

// Hooks observe the engine; each must be fast and safe for concurrent use.
type Hooks struct {
	// OnRead reports one Get or GetOnDemand: how many values were asked
	// for, how many were present, and how long it took.
	OnRead func(view string, requested, present int, took time.Duration)
	// OnFlush reports one history batch written to Offline (or not).
	OnFlush func(view string, rows int, took time.Duration, err error)
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxDistinct == 0 {
		o.MaxDistinct = 1000
	}
	return o
}

// Engine keeps every view's state current from the log and serves reads.
// It is a stream.State. Apply may be called concurrently from several
// goroutines (each entity is locked by its shard; per-entity order only
// matters for first/last ties). Snapshot must not run concurrently with
// Apply, nor Restore with Apply. Get, GetOnDemand and Views are safe for
// concurrent use with everything; during a Restore a read may see some
// shards old and some new. Committed, Pending, Flush and Run are safe for
// concurrent use with everything.
type Engine struct {
	opt      Options
	seed     maphash.Seed
	views    []*cview
	byName   map[string]*cview
	ods      []*cod
	odByName map[string]*cod
	hash     string
	catalog  [nShards]catShard
	applied  atomic.Int64
	hist     history
}

// catalog is what the engine knows of each product's category and price,
// to resolve the category and price fields of events that do not carry
// them, with the online store's rules: an upsert sets what it names, an
// event fills what is still unknown.
type catShard struct {
	mu sync.Mutex
	m  map[string]catEntry
}

type catEntry struct {
	Category string
	Price    float64 // < 0 unknown
}

type aggKind uint8

const (
	aggCount aggKind = iota
	aggSum
	aggAvg
	aggMin
	aggMax
	aggRatio
	aggDistinct
	aggFirst
	aggLast
	aggMostFrequent
	aggDecayed
	aggWindow
	aggStock
)

var aggByName = map[string]aggKind{"count": aggCount, "sum": aggSum, "avg": aggAvg, "min": aggMin, "max": aggMax,
	"ratio": aggRatio, "distinct_count": aggDistinct, "first": aggFirst, "last": aggLast, "most_frequent": aggMostFrequent,
	"decayed_count": aggDecayed, "window_count": aggWindow, "stock": aggStock}

type fieldKind uint8

const (
	fNone fieldKind = iota
	fPrice
	fQuantity
	fRating
	fRevenue
	fTime
	fCategory
	fProduct
	fUser
	fSession
	fEventType
)

var fieldByName = map[string]fieldKind{"": fNone, "price": fPrice, "quantity": fQuantity, "rating": fRating,
	"revenue": fRevenue, "time": fTime, "category": fCategory, "product_id": fProduct, "user_id": fUser,
	"session_id": fSession, "event_type": fEventType}

type entityKind uint8

const (
	eUser entityKind = iota
	eProduct
	eUserCategory
	eCategory
	eSession
)

var entityByName = map[string]entityKind{"user": eUser, "product": eProduct, "user_category": eUserCategory,
	"category": eCategory, "session": eSession}

// cfeat is a compiled Feature.
type cfeat struct {
	name     string
	typ      string
	agg      aggKind
	mask     uint8 // bit 1<<event.Type
	field    fieldKind
	isStr    bool // field is text
	catalog  string
	off      int // first slot in entity.nums
	strIdx   int // slot in entity.strs (text first/last)
	mapIdx   int // slot in entity.maps
	mapOwner bool
	hl       float64 // ms
	weights  [8]float64
	width    int64 // window bucket, ms
	nb       int
	num, den int // feature indexes of a ratio
	def      any
}

// cview is a compiled View with its state.
type cview struct {
	v       View
	ttl     int64 // ms; 0 never
	entity  entityKind
	feats   []cfeat
	byName  map[string]int
	nNums   int
	nStrs   int
	nMaps   int
	init    []float64 // initial nums (NaN = no value)
	mask    uint8
	catalog bool // some feature reads upserts
	shards  [nShards]vshard
	newest  atomic.Int64 // event time of the newest applied record
	newestI atomic.Int64 // ingest time of the newest applied event
}

type vshard struct {
	mu    sync.RWMutex
	m     map[string]*entity
	dirty int // entities with dirty set
}

// entity is one entity's state in one view.
type entity struct {
	updated int64 // newest event or upsert time, Unix ms
	dirty   bool  // changed since the last Snapshot: its history needs a row
	nums    []float64
	strs    []string
	maps    []map[string]int64
}

// cod is a compiled OnDemand.
type cod struct {
	od     OnDemand
	fn     *odFunc
	typ    string
	inputs []odInput
}

type odInput struct {
	view *cview
	feat int
}

// New compiles views and on-demand features (validating them) into an
// empty Engine. It starts nothing.
func New(views []View, ondemand []OnDemand, opt Options) (*Engine, error) {
	if err := Validate(views, ondemand); err != nil {
		return nil, err
	}
	e := &Engine{opt: opt.withDefaults(), seed: maphash.MakeSeed(), byName: map[string]*cview{}, odByName: map[string]*cod{},
		hist: history{wake: make(chan struct{}, 1)}}
	for i := range e.catalog {
		e.catalog[i].m = map[string]catEntry{}
	}
	for _, v := range views {
		cv := compileView(v)
		e.views = append(e.views, cv)
		e.byName[v.Name] = cv
	}
	for _, o := range ondemand {
		fn, _ := parseFunc(o.Func)
		c := &cod{od: o, fn: fn, typ: fn.typ}
		for _, in := range o.Inputs {
			vn, fname, _ := cutRef(in)
			cv := e.byName[vn]
			c.inputs = append(c.inputs, odInput{cv, cv.byName[fname]})
		}
		e.ods = append(e.ods, c)
		e.odByName[o.Name] = c
	}
	e.hash = definitionHash(views, e.opt.MaxDistinct)
	return e, nil
}

func cutRef(s string) (view, feat string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func compileView(v View) *cview {
	cv := &cview{v: v, ttl: time.Duration(v.TTL).Milliseconds(), entity: entityByName[v.Entity], byName: map[string]int{}}
	for i := range cv.shards {
		cv.shards[i].m = map[string]*entity{}
	}
	maps := map[string]int{}
	for i := range v.Features {
		cv.byName[v.Features[i].Name] = i
	}
	for i := range v.Features {
		f := &v.Features[i]
		c := cfeat{name: f.Name, typ: f.Type, agg: aggByName[f.Agg], field: fieldByName[f.Field], catalog: f.Catalog,
			strIdx: -1, mapIdx: -1, num: -1, den: -1}
		if c.typ == "" {
			c.typ = naturalType(f)
		}
		if f.Default != nil {
			c.def, _ = convertDefault(f.Default, c.typ)
		}
		c.isStr = c.field >= fCategory || (c.field == fNone && catFields[f.Catalog] == "string")
		if len(f.Events) == 0 {
			c.mask = 0xff
		}
		for _, name := range f.Events {
			t, _ := event.ParseType(name)
			c.mask |= 1 << t
		}
		c.off = cv.nNums
		grow := func(n int, init float64) {
			for range n {
				cv.init = append(cv.init, init)
			}
			cv.nNums += n
		}
		switch c.agg {
		case aggCount, aggSum:
			grow(1, 0)
		case aggAvg:
			grow(2, 0) // sum, n
		case aggMin, aggMax:
			grow(1, math.NaN())
		case aggFirst, aggLast:
			grow(3, 0) // has, time, from catalog
			grow(1, math.NaN())
			if c.isStr {
				c.strIdx = cv.nStrs
				cv.nStrs++
			}
		case aggDistinct, aggMostFrequent:
			key := fmt.Sprint(c.field, "/", c.mask)
			if j, ok := maps[key]; ok {
				c.mapIdx = j
			} else {
				c.mapIdx = cv.nMaps
				c.mapOwner = true
				maps[key] = cv.nMaps
				cv.nMaps++
			}
		case aggDecayed:
			grow(2, 0) // V, T
			c.hl = float64(time.Duration(f.HalfLife).Milliseconds())
			for t := range c.weights {
				c.weights[t] = 1
			}
			if f.Weights != nil {
				c.weights = [8]float64{}
				for name, w := range f.Weights {
					t, _ := event.ParseType(name)
					c.weights[t] = w
				}
			}
		case aggWindow:
			c.nb = f.Buckets
			if c.nb == 0 {
				c.nb = 12
			}
			c.width = max(time.Duration(f.Window).Milliseconds()/int64(c.nb), 1)
			grow(c.nb, math.NaN()) // bucket numbers
			grow(c.nb, 0)          // counts
		case aggStock:
			grow(1, math.NaN())
			if c.field == fNone {
				c.field = fQuantity
			}
			if len(f.Events) == 0 {
				c.mask = 1 << event.Purchase
			}
			c.catalog = "inventory"
		case aggRatio:
			c.num, c.den = cv.byName[f.Numerator], cv.byName[f.Denominator]
			c.mask = 0
		}
		if c.catalog != "" {
			cv.catalog = true
		}
		cv.mask |= c.mask
		cv.feats = append(cv.feats, c)
	}
	return cv
}

// definitionHash covers everything that changes what state means: names,
// entities, aggregations, filters, fields, windows. It leaves out what only
// reads use (TTL, types, defaults, descriptions), so changing those needs
// no replay.
func definitionHash(views []View, maxDistinct int) string {
	type hf struct {
		Name, Agg, Field, Catalog string
		Events                    []string
		HalfLife, Window          Duration
		Buckets                   int
		Weights                   map[string]float64
		Num, Den                  string
	}
	type hv struct {
		Name, Entity string
		Features     []hf
	}
	var all []hv
	for _, v := range views {
		h := hv{Name: v.Name, Entity: v.Entity}
		for _, f := range v.Features {
			ev := slices.Clone(f.Events)
			slices.Sort(ev)
			h.Features = append(h.Features, hf{f.Name, f.Agg, f.Field, f.Catalog, ev, f.HalfLife, f.Window, f.Buckets, f.Weights, f.Numerator, f.Denominator})
		}
		all = append(all, h)
	}
	b, _ := json.Marshal(struct {
		Format      int
		MaxDistinct int
		Views       []hv
	}{hashFormat, maxDistinct, all})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// DefinitionHash identifies the state layout; snapshots carry it.
func (e *Engine) DefinitionHash() string { return e.hash }

func (e *Engine) shard(key string) int { return int(maphash.String(e.seed, key) % nShards) }

// Apply applies one log record to every view it concerns. Impressions are
// ignored.
func (e *Engine) Apply(r *event.Record) {
	switch r.Kind {
	case event.KindEvent:
		e.applyEvent(&r.Event)
	case event.KindProduct:
		e.applyUpsert(&r.Product)
	default:
		return
	}
	e.applied.Add(1)
}

func (e *Engine) applyUpsert(p *event.Product) {
	sh := &e.catalog[e.shard(p.ID)]
	sh.mu.Lock()
	c, ok := sh.m[p.ID]
	if !ok {
		c.Price = -1
	}
	if p.Category != "" {
		c.Category = p.Category
	}
	if p.HasPrice {
		c.Price = p.Price
	}
	sh.m[p.ID] = c
	sh.mu.Unlock()
	for _, v := range e.views {
		if !v.catalog || v.entity != eProduct {
			continue
		}
		vs := &v.shards[e.shard(p.ID)]
		vs.mu.Lock()
		ent := vs.m[p.ID]
		if ent == nil {
			ent = v.newEntity()
			vs.m[p.ID] = ent
		}
		ent.updated = max(ent.updated, p.Time)
		if !ent.dirty {
			ent.dirty = true
			vs.dirty++
		}
		for i := range v.feats {
			f := &v.feats[i]
			if f.catalog == "" {
				continue
			}
			var num float64
			var str string
			switch f.catalog {
			case "category":
				if p.Category == "" {
					continue
				}
				str = p.Category
			case "name":
				if p.Name == "" {
					continue
				}
				str = p.Name
			case "price":
				if !p.HasPrice {
					continue
				}
				num = p.Price
			case "margin":
				if !p.HasMargin {
					continue
				}
				num = p.Margin
			case "inventory":
				if !p.HasInventory {
					continue
				}
				num = float64(p.Inventory)
			}
			s := ent.nums[f.off:]
			if f.agg == aggStock {
				s[0] = num
				continue
			}
			s[0], s[1], s[2], s[3] = 1, float64(p.Time), 1, num
			if f.strIdx >= 0 {
				ent.strs[f.strIdx] = str
			}
		}
		vs.mu.Unlock()
	}
	storeMax(&e.views, p.Time, 0, func(v *cview) bool { return v.catalog && v.entity == eProduct })
}

func storeMax(views *[]*cview, t, ingested int64, ok func(*cview) bool) {
	for _, v := range *views {
		if !ok(v) {
			continue
		}
		for {
			old := v.newest.Load()
			if t <= old || v.newest.CompareAndSwap(old, t) {
				break
			}
		}
		for ingested > 0 {
			old := v.newestI.Load()
			if ingested <= old || v.newestI.CompareAndSwap(old, ingested) {
				break
			}
		}
	}
}

// resolve fills the catalog from ev and returns its category and price
// (the event's, else the catalog's; price < 0 unknown).
func (e *Engine) resolve(ev *event.Event) (string, float64) {
	sh := &e.catalog[e.shard(ev.ProductID)]
	sh.mu.Lock()
	c, ok := sh.m[ev.ProductID]
	if !ok {
		c.Price = -1
	}
	changed := !ok
	if c.Category == "" && ev.Category != "" {
		c.Category, changed = ev.Category, true
	}
	if c.Price < 0 && ev.Price >= 0 {
		c.Price, changed = ev.Price, true
	}
	if changed {
		sh.m[ev.ProductID] = c
	}
	sh.mu.Unlock()
	cat, price := ev.Category, ev.Price
	if cat == "" {
		cat = c.Category
	}
	if price < 0 {
		price = c.Price
	}
	return cat, price
}

func (e *Engine) applyEvent(ev *event.Event) {
	if ev.Type == 0 || ev.Type > 7 {
		return
	}
	cat, price := e.resolve(ev)
	bit := uint8(1) << ev.Type
	for _, v := range e.views {
		if v.mask&bit == 0 {
			continue
		}
		var key string
		switch v.entity {
		case eUser:
			key = ev.UserID
		case eProduct:
			key = ev.ProductID
		case eUserCategory:
			if cat != "" && ev.UserID != "" {
				key = ev.UserID + "|" + cat
			}
		case eCategory:
			key = cat
		case eSession:
			key = ev.SessionID
		}
		if key == "" {
			continue
		}
		sh := &v.shards[e.shard(key)]
		sh.mu.Lock()
		ent := sh.m[key]
		if ent == nil {
			ent = v.newEntity()
			sh.m[key] = ent
		}
		ent.updated = max(ent.updated, ev.Time)
		if !ent.dirty {
			ent.dirty = true
			sh.dirty++
		}
		for i := range v.feats {
			if f := &v.feats[i]; f.mask&bit != 0 {
				e.applyFeature(f, ent, ev, cat, price)
			}
		}
		sh.mu.Unlock()
		for {
			old := v.newest.Load()
			if ev.Time <= old || v.newest.CompareAndSwap(old, ev.Time) {
				break
			}
		}
		for ev.Ingested > 0 {
			old := v.newestI.Load()
			if ev.Ingested <= old || v.newestI.CompareAndSwap(old, ev.Ingested) {
				break
			}
		}
	}
}

func (v *cview) newEntity() *entity {
	ent := &entity{nums: slices.Clone(v.init)}
	if v.nStrs > 0 {
		ent.strs = make([]string, v.nStrs)
	}
	if v.nMaps > 0 {
		ent.maps = make([]map[string]int64, v.nMaps)
	}
	return ent
}

// numField reads a numeric field of ev.
func numField(f fieldKind, ev *event.Event, price float64) (float64, bool) {
	switch f {
	case fPrice:
		return price, price >= 0
	case fQuantity:
		return float64(ev.Quantity), true
	case fRating:
		return float64(ev.Rating), ev.Rating > 0
	case fRevenue:
		return price * float64(ev.Quantity), price >= 0
	case fTime:
		return float64(ev.Time), true
	}
	return 0, false
}

// strField reads a text field of ev.
func strField(f fieldKind, ev *event.Event, cat string) (string, bool) {
	var s string
	switch f {
	case fCategory:
		s = cat
	case fProduct:
		s = ev.ProductID
	case fUser:
		s = ev.UserID
	case fSession:
		s = ev.SessionID
	case fEventType:
		s = ev.Type.String()
	}
	return s, s != ""
}

func (e *Engine) applyFeature(f *cfeat, ent *entity, ev *event.Event, cat string, price float64) {
	s := ent.nums[f.off:]
	switch f.agg {
	case aggCount:
		s[0]++
	case aggSum:
		if x, ok := numField(f.field, ev, price); ok {
			s[0] += x
		}
	case aggAvg:
		if x, ok := numField(f.field, ev, price); ok {
			s[0] += x
			s[1]++
		}
	case aggMin:
		if x, ok := numField(f.field, ev, price); ok && (math.IsNaN(s[0]) || x < s[0]) {
			s[0] = x
		}
	case aggMax:
		if x, ok := numField(f.field, ev, price); ok && (math.IsNaN(s[0]) || x > s[0]) {
			s[0] = x
		}
	case aggFirst, aggLast:
		if s[2] == 1 || f.field == fNone { // the catalog's value wins
			return
		}
		t := float64(ev.Time)
		if s[0] == 1 && ((f.agg == aggLast && t < s[1]) || (f.agg == aggFirst && t >= s[1])) {
			return
		}
		if f.isStr {
			str, ok := strField(f.field, ev, cat)
			if !ok {
				return
			}
			ent.strs[f.strIdx] = str
		} else {
			x, ok := numField(f.field, ev, price)
			if !ok {
				return
			}
			s[3] = x
		}
		s[0], s[1] = 1, t
	case aggDistinct, aggMostFrequent:
		if !f.mapOwner {
			return
		}
		var str string
		var ok bool
		if f.isStr {
			str, ok = strField(f.field, ev, cat)
		} else {
			var x float64
			if x, ok = numField(f.field, ev, price); ok {
				str = fmt.Sprint(x)
			}
		}
		if !ok {
			return
		}
		m := ent.maps[f.mapIdx]
		if m == nil {
			m = make(map[string]int64, 4)
			ent.maps[f.mapIdx] = m
		}
		if _, seen := m[str]; seen || len(m) < e.opt.MaxDistinct {
			m[str]++
		}
	case aggDecayed:
		if w := f.weights[ev.Type]; w > 0 {
			d := feature.Decayed{V: s[0], T: int64(s[1])}
			d.Add(w, ev.Time, f.hl)
			s[0], s[1] = d.V, float64(d.T)
		}
	case aggWindow:
		b := floorDiv(ev.Time, f.width)
		i := int(floorMod(b, int64(f.nb)))
		switch cur := s[i]; {
		case math.IsNaN(cur) || float64(b) > cur:
			s[i], s[f.nb+i] = float64(b), 1
		case float64(b) == cur:
			s[f.nb+i]++
		default:
			// Older than every bucket the ring still holds: outside the
			// window of the newest events, dropped.
		}
	case aggStock:
		if s[0] > 0 {
			if x, ok := numField(f.field, ev, price); ok {
				s[0] = max(s[0]-x, 0)
			}
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
