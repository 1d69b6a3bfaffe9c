package analytics

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/recohq/reco"
)

// The groupings of a series.
const (
	GroupNone      = ""
	GroupVariant   = "variant"    // experiment/variant of the served list
	GroupSource    = "source"     // candidate source of the item
	GroupEventType = "event_type" // event type
	GroupFallback  = "fallback"   // fallback name
)

// MetricInfo describes one metric of Series.
type MetricInfo struct {
	Name        string   `json:"name"`
	Unit        string   `json:"unit"`
	Description string   `json:"description"`
	GroupBy     []string `json:"group_by"` // "" means no grouping
}

// metric computes one metric from buckets.
type metric struct {
	MetricInfo
	// num and den read one group's counts; den == nil means a count.
	num, den func(c *Counters) int64
	scale    float64 // value = num * scale (revenue micros to units)
	// events/purchases/revenue/fallbacks read the bucket directly.
	direct func(b *bucket, group string, add func(key string, v int64))
	q      float64 // latency quantile
}

var all = []string{GroupNone, GroupVariant, GroupSource}
var noSource = []string{GroupNone, GroupVariant}

var metricList = []metric{
	{MetricInfo: MetricInfo{"events", "count", "log events by event time", []string{GroupNone, GroupEventType}},
		direct: func(b *bucket, g string, add func(string, int64)) {
			for t, n := range b.Events {
				if g == GroupEventType {
					add(t, n)
				} else {
					add("all", n)
				}
			}
		}},
	{MetricInfo: MetricInfo{"impressions", "count", "served lists, by impression time", noSource},
		num: func(c *Counters) int64 { return c.Lists }},
	{MetricInfo: MetricInfo{"items_shown", "count", "items of the served lists", all},
		num: func(c *Counters) int64 { return c.ItemsShown }},
	{MetricInfo: MetricInfo{"clicks", "count", "clicks attributed to a served list (by the list's minute); by source only clicks on an item of the list", all},
		num: func(c *Counters) int64 { return c.Clicks }},
	{MetricInfo: MetricInfo{"clicked_lists", "count", "served lists with at least one attributed click", noSource},
		num: func(c *Counters) int64 { return c.ClickedLists }},
	{MetricInfo: MetricInfo{"ctr", "ratio", "clicked_lists / impressions (by source: use item_ctr)", noSource},
		num: func(c *Counters) int64 { return c.ClickedLists }, den: func(c *Counters) int64 { return c.Lists }},
	{MetricInfo: MetricInfo{"clicked_items", "count", "distinct items of served lists that were clicked", all},
		num: func(c *Counters) int64 { return c.ClickedItems }},
	{MetricInfo: MetricInfo{"item_ctr", "ratio", "clicked_items / items_shown", all},
		num: func(c *Counters) int64 { return c.ClickedItems }, den: func(c *Counters) int64 { return c.ItemsShown }},
	{MetricInfo: MetricInfo{"add_to_carts", "count", "add-to-cart events attributed to a served list", all},
		num: func(c *Counters) int64 { return c.AddToCarts }},
	{MetricInfo: MetricInfo{"attributed_purchases", "count", "purchase events attributed to a served list", all},
		num: func(c *Counters) int64 { return c.Purchases }},
	{MetricInfo: MetricInfo{"attributed_revenue", "currency", "revenue (price x quantity) of attributed purchases", all},
		num: func(c *Counters) int64 { return c.RevenueMicros }, scale: 1e-6},
	{MetricInfo: MetricInfo{"converted_lists", "count", "served lists with at least one attributed purchase", noSource},
		num: func(c *Counters) int64 { return c.ConvertedLists }},
	{MetricInfo: MetricInfo{"conversion_rate", "ratio", "converted_lists / impressions", noSource},
		num: func(c *Counters) int64 { return c.ConvertedLists }, den: func(c *Counters) int64 { return c.Lists }},
	{MetricInfo: MetricInfo{"purchases", "count", "every purchase event, by event time", []string{GroupNone}},
		direct: func(b *bucket, _ string, add func(string, int64)) { add("all", b.Purchases) }},
	{MetricInfo: MetricInfo{"revenue", "currency", "revenue (price x quantity) of every purchase event, by event time", []string{GroupNone}},
		direct: func(b *bucket, _ string, add func(string, int64)) { add("all", b.RevenueMicros) }, scale: 1e-6},
	{MetricInfo: MetricInfo{"fallbacks", "count", "served lists that used a fallback", []string{GroupNone, GroupFallback}},
		direct: func(b *bucket, g string, add func(string, int64)) {
			for f, n := range b.Fallbacks {
				if g == GroupFallback {
					add(f, n)
				} else {
					add("all", n)
				}
			}
		}},
	{MetricInfo: MetricInfo{"latency_p50", "ms", "median recommend latency (±1%)", []string{GroupNone}}, q: 0.50},
	{MetricInfo: MetricInfo{"latency_p95", "ms", "95th percentile recommend latency (±1%)", []string{GroupNone}}, q: 0.95},
	{MetricInfo: MetricInfo{"latency_p99", "ms", "99th percentile recommend latency (±1%)", []string{GroupNone}}, q: 0.99},
}

func findMetric(name string) *metric {
	for i := range metricList {
		if metricList[i].Name == name {
			return &metricList[i]
		}
	}
	return nil
}

// Metrics lists every metric Series knows, with its groupings. The caller
// owns the returned slice.
func Metrics() []MetricInfo {
	out := make([]MetricInfo, len(metricList))
	for i, m := range metricList {
		out[i] = m.MetricInfo
		out[i].GroupBy = slices.Clone(m.GroupBy)
	}
	return out
}

// MaxPoints bounds the points of one series.
const MaxPoints = 10_000

// Values are the points of one series. NaN (a ratio with nothing to divide
// by, a quantile of no requests) is written as JSON null.
type Values []float64

// MarshalJSON writes NaN and infinities as null.
func (v Values) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+8*len(v))
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
		}
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads null as NaN.
func (v *Values) UnmarshalJSON(b []byte) error {
	var raw []*float64
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*v = make(Values, len(raw))
	for i, p := range raw {
		if p == nil {
			(*v)[i] = math.NaN()
		} else {
			(*v)[i] = *p
		}
	}
	return nil
}

// Series is one line of a chart.
type Series struct {
	Key    string `json:"key"` // group value, or "all"
	Values Values `json:"values"`
}

// SeriesResult is a chart: point i covers [Timestamps[i], Timestamps[i]+Step).
// Series are sorted by key; counts are 0 where nothing happened.
type SeriesResult struct {
	Metric      string      `json:"metric"`
	GroupBy     string      `json:"group_by"`
	Unit        string      `json:"unit"`
	StepSeconds int64       `json:"step_seconds"`
	Timestamps  []time.Time `json:"timestamps"`
	Series      []Series    `json:"series"`
}

// ParamError is a bad argument of Series: Param names it as the HTTP query
// parameter ("metric", "group_by", "from", "to", "step").
type ParamError struct {
	Param string
	Msg   string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

func badParam(param, format string, args ...any) error {
	return reco.E("analytics.Series", reco.Invalid, &ParamError{Param: param, Msg: fmt.Sprintf(format, args...)})
}

// Series computes metric over [from, to) in points of step, grouped by
// groupBy (see Metrics for what each metric allows). from is aligned down
// to a multiple of step since the Unix epoch; step is a whole number of
// minutes; at most MaxPoints points. Errors are reco.Invalid and wrap a
// *ParamError. Safe for concurrent use.
func (a *Aggregator) Series(metricName, groupBy string, from, to time.Time, step time.Duration) (SeriesResult, error) {
	m := findMetric(metricName)
	if m == nil {
		return SeriesResult{}, badParam("metric", "unknown metric %q (GET /v1/analytics/metrics lists them)", metricName)
	}
	if !slices.Contains(m.GroupBy, groupBy) {
		return SeriesResult{}, badParam("group_by", "metric %s cannot be grouped by %q (allowed: %q)", m.Name, groupBy, m.GroupBy)
	}
	if step < time.Minute || step%time.Minute != 0 {
		return SeriesResult{}, badParam("step", "must be a whole number of minutes, at least 1m (got %v)", step)
	}
	if !to.After(from) {
		return SeriesResult{}, badParam("to", "must be after from")
	}
	stepMin := int64(step / time.Minute)
	m0 := floorDiv(Minute(from.UnixMilli()), stepMin) * stepMin
	m1 := Minute(to.UnixMilli() - 1) // last minute included
	points := (m1-m0)/stepMin + 1
	if points > MaxPoints {
		return SeriesResult{}, badParam("step", "%d points over [from, to) is more than %d: use a longer step", points, MaxPoints)
	}
	res := SeriesResult{Metric: m.Name, GroupBy: groupBy, Unit: m.Unit, StepSeconds: int64(step / time.Second),
		Timestamps: make([]time.Time, points)}
	for i := range res.Timestamps {
		res.Timestamps[i] = time.UnixMilli((m0 + int64(i)*stepMin) * 60000).UTC()
	}
	if m.q > 0 {
		a.latencySeries(m, m0, m1, stepMin, &res)
		return res, nil
	}

	type acc struct{ num, den []int64 }
	groups := map[string]*acc{}
	get := func(k string) *acc {
		g := groups[k]
		if g == nil {
			g = &acc{num: make([]int64, points), den: make([]int64, points)}
			groups[k] = g
		}
		return g
	}
	a.mu.Lock()
	lo, hi := a.window(a.opt.Now())
	for min, b := range a.buckets {
		if min < m0 || min > m1 || min < lo || min > hi {
			continue
		}
		i := (min - m0) / stepMin
		if m.direct != nil {
			m.direct(b, groupBy, func(k string, v int64) { get(k).num[i] += v })
			continue
		}
		addC := func(k string, c *Counters) {
			g := get(k)
			g.num[i] += m.num(c)
			if m.den != nil {
				g.den[i] += m.den(c)
			}
		}
		switch groupBy {
		case GroupNone:
			addC("all", &b.All)
		case GroupVariant:
			for k, c := range b.ByVariant {
				addC(k, c)
			}
		case GroupSource:
			for k, c := range b.BySource {
				addC(k, c)
			}
		}
	}
	a.mu.Unlock()
	if groupBy == GroupNone && len(groups) == 0 {
		get("all")
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		g := groups[k]
		vals := make(Values, points)
		for i := range vals {
			switch {
			case m.den != nil && g.den[i] == 0:
				vals[i] = math.NaN()
			case m.den != nil:
				vals[i] = float64(g.num[i]) / float64(g.den[i])
			case m.scale != 0:
				vals[i] = float64(g.num[i]) * m.scale
			default:
				vals[i] = float64(g.num[i])
			}
		}
		res.Series = append(res.Series, Series{Key: k, Values: vals})
	}
	return res, nil
}

func (a *Aggregator) latencySeries(m *metric, m0, m1, stepMin int64, res *SeriesResult) {
	sk := make([]Sketch, len(res.Timestamps))
	a.latMu.Lock()
	for min, s := range a.latency {
		if min < m0 || min > m1 {
			continue
		}
		sk[(min-m0)/stepMin].Merge(s)
	}
	a.latMu.Unlock()
	vals := make(Values, len(sk))
	for i := range sk {
		d, ok := sk[i].Quantile(m.q)
		if !ok {
			vals[i] = math.NaN()
			continue
		}
		vals[i] = float64(d) / float64(time.Millisecond)
	}
	res.Series = []Series{{Key: "all", Values: vals}}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
