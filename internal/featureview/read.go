package featureview

import (
	"encoding/json"
	"math"
	"time"

	"github.com/recohq/reco"
)

// Status says whether a value was found, as Feast's Go server reports it.
type Status uint8

// The statuses.
const (
	Missing Status = iota // unknown entity, or no observation and no default
	Present
	Expired // the entity's newest event is older than the view's TTL
)

func (s Status) String() string {
	switch s {
	case Present:
		return "present"
	case Expired:
		return "expired"
	}
	return "missing"
}

// MarshalText writes the status name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Value is one feature value of one entity.
type Value struct {
	// Value is int64, float64, string or time.Time (UTC) by the feature's
	// type; nil unless Status is Present.
	Value  any
	Status Status
	// Age is from EventTime to the read's now (0 for unknown entities and
	// never negative).
	Age time.Duration
	// EventTime is the entity's newest event (or upsert) time in the view;
	// zero for unknown entities.
	EventTime time.Time
}

// MarshalJSON writes {"value":…, "status":"present", "age_seconds":…,
// "event_time":"RFC 3339"} (event_time omitted when unknown).
func (v Value) MarshalJSON() ([]byte, error) {
	type out struct {
		Value     any        `json:"value"`
		Status    Status     `json:"status"`
		AgeSecs   float64    `json:"age_seconds"`
		EventTime *time.Time `json:"event_time,omitempty"`
	}
	o := out{Value: v.Value, Status: v.Status, AgeSecs: v.Age.Seconds()}
	if x, ok := v.Value.(time.Time); ok {
		o.Value = x.Format(time.RFC3339Nano)
	}
	if !v.EventTime.IsZero() {
		t := v.EventTime
		o.EventTime = &t
	}
	return json.Marshal(o)
}

// Row is one entity's values, in the order of the requested features.
type Row struct {
	Values []Value `json:"values"`
}

// Get reads features of the entities keys from a view, at time now (TTLs
// and decays are measured to it). features nil means every feature of the
// view; a feature may also name an on-demand feature whose inputs all come
// from this view. Rows align with keys and values with features; all rows
// share one backing array that the caller owns. Keys of a user_category
// view are user + "|" + category. Errors: NotFound for an unknown view,
// Invalid for an unknown feature.
func (e *Engine) Get(view string, keys []string, features []string, now time.Time) ([]Row, error) {
	start := time.Now()
	v := e.byName[view]
	if v == nil {
		return nil, reco.Errorf("featureview.Get", reco.NotFound, "unknown feature view %q", view)
	}
	// Column plan: >= 0 a view feature, < 0 -(1+i) on-demand feature i.
	var plan []int
	if features == nil {
		plan = make([]int, len(v.feats))
		for i := range plan {
			plan[i] = i
		}
	} else {
		plan = make([]int, len(features))
		for i, name := range features {
			if j, ok := v.byName[name]; ok {
				plan[i] = j
				continue
			}
			c := e.odByName[name]
			if c == nil || !c.onlyFrom(v) {
				return nil, reco.Errorf("featureview.Get", reco.Invalid, "view %q has no feature %q", view, name)
			}
			plan[i] = -1 - e.odIndex(c)
		}
	}
	nowMs := now.UnixMilli()
	rows := make([]Row, len(keys))
	all := make([]Value, len(keys)*len(plan))
	present := 0
	var in [4]Value
	for r, key := range keys {
		vals := all[r*len(plan) : (r+1)*len(plan) : (r+1)*len(plan)]
		rows[r].Values = vals
		sh := &v.shards[e.shard(key)]
		sh.mu.RLock()
		ent := sh.m[key]
		for c, j := range plan {
			if j >= 0 {
				vals[c] = v.read(ent, j, nowMs)
			} else {
				od := e.ods[-1-j]
				ins := in[:0]
				for _, x := range od.inputs {
					ins = append(ins, v.read(ent, x.feat, nowMs))
				}
				vals[c] = od.compute(ins, now)
			}
			if vals[c].Status == Present {
				present++
			}
		}
		sh.mu.RUnlock()
	}
	if h := e.opt.Hooks.OnRead; h != nil {
		h(view, len(all), present, time.Since(start))
	}
	return rows, nil
}

func (c *cod) onlyFrom(v *cview) bool {
	for _, in := range c.inputs {
		if in.view != v {
			return false
		}
	}
	return true
}

func (e *Engine) odIndex(c *cod) int {
	for i, x := range e.ods {
		if x == c {
			return i
		}
	}
	return -1
}

// Entities names one request's entity keys by entity kind: {"user": "u1",
// "product": "p9"} (user_category keys are user + "|" + category).
type Entities map[string]string

// GetOnDemand computes an on-demand feature for each row of entities at
// time now. A value is missing if an input is missing, expired if an input
// is expired (and none missing); its age and event time are the oldest
// input's. Errors: NotFound for an unknown name.
func (e *Engine) GetOnDemand(name string, rows []Entities, now time.Time) ([]Value, error) {
	start := time.Now()
	c := e.odByName[name]
	if c == nil {
		return nil, reco.Errorf("featureview.GetOnDemand", reco.NotFound, "unknown on-demand feature %q", name)
	}
	out := make([]Value, len(rows))
	nowMs := now.UnixMilli()
	present := 0
	ins := make([]Value, len(c.inputs))
	for r, ents := range rows {
		for i, in := range c.inputs {
			key := ents[in.view.v.Entity]
			sh := &in.view.shards[e.shard(key)]
			sh.mu.RLock()
			ins[i] = in.view.read(sh.m[key], in.feat, nowMs)
			sh.mu.RUnlock()
		}
		out[r] = c.compute(ins, now)
		if out[r].Status == Present {
			present++
		}
	}
	if h := e.opt.Hooks.OnRead; h != nil {
		h(name, len(rows), present, time.Since(start))
	}
	return out, nil
}

// compute applies the function to input values.
func (c *cod) compute(ins []Value, now time.Time) Value {
	var out Value
	out.Status = Present
	args := make([]any, len(ins))
	for i, in := range ins {
		if in.Age > out.Age || out.EventTime.IsZero() {
			out.Age, out.EventTime = in.Age, in.EventTime
		}
		switch in.Status {
		case Missing:
			out.Status = Missing
		case Expired:
			if out.Status != Missing {
				out.Status = Expired
			}
		}
		switch x := in.Value.(type) {
		case int64:
			args[i] = float64(x)
		default:
			args[i] = x
		}
	}
	if out.Status != Present {
		return out
	}
	out.Value = convert(c.fn.eval(args, now), c.typ)
	return out
}

// convert turns a function result into the declared type.
func convert(x any, typ string) any {
	if f, ok := x.(float64); ok && typ == "int64" {
		return int64(f)
	}
	return x
}

// read returns feature j of ent (nil: unknown entity) at nowMs. Callers
// hold the shard's lock.
func (v *cview) read(ent *entity, j int, nowMs int64) Value {
	if ent == nil {
		return Value{}
	}
	out := Value{EventTime: time.UnixMilli(ent.updated).UTC()}
	if age := nowMs - ent.updated; age > 0 {
		out.Age = time.Duration(age) * time.Millisecond
	}
	if v.ttl > 0 && nowMs-ent.updated > v.ttl {
		out.Status = Expired
		return out
	}
	f := &v.feats[j]
	x, str, ok := v.raw(ent, f, nowMs)
	if !ok {
		if f.def == nil {
			return out
		}
		out.Value, out.Status = f.def, Present
		return out
	}
	out.Status = Present
	switch f.typ {
	case "string":
		out.Value = str
	case "int64":
		out.Value = int64(x)
	case "timestamp":
		out.Value = time.UnixMilli(int64(x)).UTC()
	default:
		out.Value = x
	}
	return out
}

// raw is a feature's value before type conversion: a number, or text for
// text features.
func (v *cview) raw(ent *entity, f *cfeat, nowMs int64) (float64, string, bool) {
	s := ent.nums[f.off:]
	switch f.agg {
	case aggCount, aggSum:
		return s[0], "", true
	case aggAvg:
		if s[1] == 0 {
			return 0, "", false
		}
		return s[0] / s[1], "", true
	case aggMin, aggMax:
		return s[0], "", !math.IsNaN(s[0])
	case aggFirst, aggLast:
		if s[0] != 1 {
			return 0, "", false
		}
		if f.isStr {
			return 0, ent.strs[f.strIdx], true
		}
		return s[3], "", true
	case aggDistinct:
		return float64(len(ent.maps[f.mapIdx])), "", true
	case aggMostFrequent:
		best, n := "", int64(0)
		for k, c := range ent.maps[f.mapIdx] {
			if c > n || (c == n && k < best) {
				best, n = k, c
			}
		}
		return 0, best, n > 0
	case aggDecayed:
		d := s[0]
		if t := int64(s[1]); nowMs > t {
			d *= math.Exp2(-float64(nowMs-t) / f.hl)
		}
		return d, "", true
	case aggWindow:
		nowB := floorDiv(nowMs, f.width)
		var n float64
		for i := 0; i < f.nb; i++ {
			if b := s[i]; !math.IsNaN(b) && b <= float64(nowB) && b > float64(nowB-int64(f.nb)) {
				n += s[f.nb+i]
			}
		}
		return n, "", true
	case aggStock:
		return s[0], "", !math.IsNaN(s[0]) && s[0] >= 0
	case aggRatio:
		num, _, ok1 := v.raw(ent, &v.feats[f.num], nowMs)
		den, _, ok2 := v.raw(ent, &v.feats[f.den], nowMs)
		if !ok1 || !ok2 || den == 0 {
			return 0, "", false
		}
		return num / den, "", true
	}
	return 0, "", false
}

// FeatureInfo describes one feature for GET /v1/feature-views.
type FeatureInfo struct {
	Feature
	Type string `json:"type"` // with the natural type filled in
}

// ViewInfo describes one view and its state.
type ViewInfo struct {
	Name        string        `json:"name"`
	Entity      string        `json:"entity"`
	TTL         Duration      `json:"ttl"`
	TTLSeconds  float64       `json:"ttl_seconds"`
	Description string        `json:"description,omitempty"`
	Features    []FeatureInfo `json:"features"`
	Entities    int           `json:"entities"`
	// NewestEvent is the time of the newest applied event or upsert;
	// FreshnessSeconds is its age at the time of the call (the freshness
	// SLO). Both are absent before the first record.
	NewestEvent      *time.Time `json:"newest_event_time,omitempty"`
	FreshnessSeconds *float64   `json:"freshness_seconds,omitempty"`
	// NewestIngested is when the log accepted the newest applied event
	// (event-to-feature delay is now minus this).
	NewestIngested *time.Time `json:"newest_ingested_time,omitempty"`
}

// OnDemandInfo describes one on-demand feature.
type OnDemandInfo struct {
	OnDemand
	Type string `json:"type"`
}

// ViewsInfo is the body of GET /v1/feature-views.
type ViewsInfo struct {
	FeatureViews     []ViewInfo     `json:"feature_views"`
	OnDemandFeatures []OnDemandInfo `json:"on_demand_features"`
	DefinitionHash   string         `json:"definition_hash"`
}

// Views describes every view (in declaration order) with its entity count
// and freshness at now (zero now: Options.Now). It takes each shard's read
// lock in turn.
func (e *Engine) Views(now time.Time) ViewsInfo {
	if now.IsZero() {
		now = e.opt.Now()
	}
	info := ViewsInfo{DefinitionHash: e.hash, FeatureViews: []ViewInfo{}, OnDemandFeatures: []OnDemandInfo{}}
	for _, v := range e.views {
		vi := ViewInfo{Name: v.v.Name, Entity: v.v.Entity, TTL: v.v.TTL, TTLSeconds: v.v.TTL.D().Seconds(), Description: v.v.Description}
		for i, f := range v.v.Features {
			vi.Features = append(vi.Features, FeatureInfo{Feature: f, Type: v.feats[i].typ})
		}
		for i := range v.shards {
			v.shards[i].mu.RLock()
			vi.Entities += len(v.shards[i].m)
			v.shards[i].mu.RUnlock()
		}
		if t := v.newest.Load(); t != 0 {
			tt := time.UnixMilli(t).UTC()
			age := max(now.Sub(tt), 0).Seconds()
			vi.NewestEvent, vi.FreshnessSeconds = &tt, &age
		}
		if t := v.newestI.Load(); t != 0 {
			tt := time.UnixMilli(t).UTC()
			vi.NewestIngested = &tt
		}
		info.FeatureViews = append(info.FeatureViews, vi)
	}
	for _, c := range e.ods {
		info.OnDemandFeatures = append(info.OnDemandFeatures, OnDemandInfo{OnDemand: c.od, Type: c.typ})
	}
	return info
}

// ViewsJSON is Views as a value for json.Marshal (GET /v1/feature-views).
func (e *Engine) ViewsJSON(now time.Time) any { return e.Views(now) }

// Freshness is the age at now of the newest event or upsert applied to
// view, false before the first one or for an unknown view.
func (e *Engine) Freshness(view string, now time.Time) (time.Duration, bool) {
	v := e.byName[view]
	if v == nil {
		return 0, false
	}
	t := v.newest.Load()
	if t == 0 {
		return 0, false
	}
	return max(now.Sub(time.UnixMilli(t)), 0), true
}

// Schema returns the feature names of a view, in declaration order, and
// their types.
func (e *Engine) Schema(view string) (names, types []string, err error) {
	v := e.byName[view]
	if v == nil {
		return nil, nil, reco.Errorf("featureview.Schema", reco.NotFound, "unknown feature view %q", view)
	}
	for _, f := range v.feats {
		names = append(names, f.name)
		types = append(types, f.typ)
	}
	return names, types, nil
}

// ViewNames lists the views in declaration order.
func (e *Engine) ViewNames() []string {
	out := make([]string, len(e.views))
	for i, v := range e.views {
		out[i] = v.v.Name
	}
	return out
}
