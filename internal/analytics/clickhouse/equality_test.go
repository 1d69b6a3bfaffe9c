package clickhouse

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/recohq/reco/internal/analytics"
	"github.com/recohq/reco/internal/event"
)

type logged struct {
	rec  *event.Record
	part int
	off  int64
}

// genLog builds a log of P partitions: users' impressions and events, with
// attributable, unattributable, late, duplicate and cross-user request ids.
func genLog(seed uint64, base time.Time) []logged {
	rng := rand.New(rand.NewPCG(seed, 7))
	const P, users = 4, 40
	variants := [][2]string{{"e1", "A"}, {"e1", "B"}, {"", ""}, {"e2", "x"}}
	sources := []string{"popular", "co_visit", "trending", ""}
	types := []event.Type{event.View, event.Click, event.Click, event.AddToCart, event.Purchase, event.RemoveFromCart}
	perUser := make([][]*event.Record, users)
	var allReqs []string
	for u := 0; u < users; u++ {
		user := fmt.Sprint("u", u)
		at := base.Add(time.Duration(rng.IntN(600)) * time.Second)
		var lists []*event.Impression
		for k := 0; k < 60; k++ {
			at = at.Add(time.Duration(rng.IntN(40000)) * time.Millisecond)
			if len(lists) == 0 || rng.IntN(4) == 0 {
				v := variants[rng.IntN(len(variants))]
				im := event.Impression{RequestID: fmt.Sprintf("r%d-%d", u, k), UserID: user, Experiment: v[0], Variant: v[1], Time: at.UnixMilli()}
				if rng.IntN(10) == 0 && len(lists) > 0 {
					im.RequestID = lists[rng.IntN(len(lists))].RequestID // a duplicate request id
				}
				if rng.IntN(8) == 0 {
					im.Fallback = []string{"rule_based", "popular_only"}[rng.IntN(2)]
				}
				for j, n := 0, rng.IntN(6); j < n; j++ {
					im.Items = append(im.Items, event.ImpressionItem{ProductID: fmt.Sprint("p", rng.IntN(20)),
						Source: sources[rng.IntN(len(sources))], Position: int32(j), Score: rng.Float32()})
				}
				lists = append(lists, &im)
				allReqs = append(allReqs, im.RequestID)
				perUser[u] = append(perUser[u], &event.Record{Kind: event.KindImpression, Impression: im})
				continue
			}
			e := event.Event{Type: types[rng.IntN(len(types))], UserID: user, ProductID: fmt.Sprint("p", rng.IntN(20)),
				Price: -1, Quantity: 1, Time: at.UnixMilli()}
			l := lists[rng.IntN(len(lists))]
			switch r := rng.IntN(10); {
			case r < 6:
				e.RequestID = l.RequestID
				if len(l.Items) > 0 && rng.IntN(4) != 0 {
					e.ProductID = l.Items[rng.IntN(len(l.Items))].ProductID
				}
			case r == 6:
				e.RequestID = allReqs[rng.IntN(len(allReqs))] // maybe another user's
			case r == 7:
				e.RequestID = fmt.Sprintf("r%d-%d", u, k+1+rng.IntN(5)) // a list not served yet
			case r == 8:
				e.RequestID = "unknown"
			}
			if rng.IntN(15) == 0 {
				e.Time = l.Time + time.Hour.Milliseconds() + int64(rng.IntN(2000)) - 1000 // around the window's end
			}
			if e.Type == event.Purchase {
				e.Price = float64(rng.IntN(10000))/100 + 0.005*float64(rng.IntN(2))
				e.Quantity = int32(1 + rng.IntN(3))
				if rng.IntN(10) == 0 {
					e.Price = -1
				}
			}
			perUser[u] = append(perUser[u], &event.Record{Kind: event.KindEvent, Event: e})
		}
	}
	// Each partition interleaves its users' records, keeping each user's order.
	parts := make([][]*event.Record, P)
	for {
		left := 0
		for u := range perUser {
			if len(perUser[u]) == 0 {
				continue
			}
			left++
			if rng.IntN(2) == 0 {
				h := fnv.New32a()
				h.Write([]byte(fmt.Sprint("u", u)))
				p := int(h.Sum32() % P)
				parts[p] = append(parts[p], perUser[u][0])
				perUser[u] = perUser[u][1:]
			}
		}
		if left == 0 {
			break
		}
	}
	// The log as read: partitions interleaved at random, in order within each.
	var out []logged
	next := make([]int, P)
	for len(out) < len(parts[0])+len(parts[1])+len(parts[2])+len(parts[3]) {
		p := rng.IntN(P)
		if next[p] < len(parts[p]) {
			out = append(out, logged{parts[p][next[p]], p, int64(next[p])})
			next[p]++
		}
	}
	return out
}

// chTable is one query's result: key -> minute -> columns.
type chTable map[string]map[int64][]int64

func queryTable(t *testing.T, s *Sink, q string) chTable {
	rows := mustQuery(t, s, q)
	out := chTable{}
	for _, r := range rows {
		m, _ := strconv.ParseInt(r[0], 10, 64)
		vals := make([]int64, len(r)-2)
		for i := range vals {
			v, err := strconv.ParseInt(r[i+2], 10, 64)
			if err != nil {
				t.Fatalf("row %v: %v", r, err)
			}
			vals[i] = v
		}
		if out[r[1]] == nil {
			out[r[1]] = map[int64][]int64{}
		}
		out[r[1]][m] = vals
	}
	return out
}

func (c chTable) get(key string, m int64, col int) int64 {
	if v, ok := c[key][m]; ok {
		return v[col]
	}
	return 0
}

func (c chTable) sumKeys(m int64, col int) int64 {
	var n int64
	for k := range c {
		n += c.get(k, m, col)
	}
	return n
}

func TestClickHouseMatchesAggregator(t *testing.T) {
	s := newTestSink(t, Options{BatchRecords: 500})
	ctx := context.Background()
	now := time.Now()
	base := now.Add(-3 * time.Hour).Truncate(time.Minute)
	const window = time.Hour
	agg, err := analytics.New(analytics.Options{AttributionWindow: window, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	log := genLog(42, base)
	rng := rand.New(rand.NewPCG(1, 1))
	for i, l := range log {
		agg.Apply(l.rec)
		s.Write(l.rec, l.part, l.off)
		if i%700 == 699 { // a crash: the sink's consumer replays from older offsets
			for _, r := range log[i-rng.IntN(300) : i+1] {
				s.Write(r.rec, r.part, r.off)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records, %d written with replays", len(log), s.Stats().Written)

	db := s.Database()
	evs := queryTable(t, s, "SELECT minute, type, events FROM ("+EventsQuery(db)+")")
	purch := queryTable(t, s, "SELECT minute, 'all', purchases, revenue_micros FROM ("+PurchasesQuery(db)+")")
	fb := queryTable(t, s, "SELECT minute, fallback, lists FROM ("+FallbacksQuery(db)+")")
	lists := map[string]chTable{}
	attr := map[string]chTable{}
	for _, g := range []string{analytics.GroupNone, analytics.GroupVariant, analytics.GroupSource} {
		lists[g] = queryTable(t, s, ListsQuery(db, g))
		attr[g] = queryTable(t, s, AttributionQuery(db, g, window))
	}
	if len(attr[analytics.GroupNone]) == 0 || len(fb) == 0 {
		t.Fatal("the generated log attributes nothing: the test tests nothing")
	}

	ratio := func(n, d int64) float64 {
		if d == 0 {
			return math.NaN()
		}
		return float64(n) / float64(d)
	}
	// chValue computes a metric for one key and minute from the ClickHouse rows,
	// the way Series computes it from counts.
	chValue := func(metric, group, key string, m int64) float64 {
		L, A := lists[group], attr[group]
		switch metric {
		case "events":
			if group == analytics.GroupEventType {
				return float64(evs.get(key, m, 0))
			}
			return float64(evs.sumKeys(m, 0))
		case "purchases":
			return float64(purch.get("all", m, 0))
		case "revenue":
			return float64(purch.get("all", m, 1)) * 1e-6
		case "fallbacks":
			if group == analytics.GroupFallback {
				return float64(fb.get(key, m, 0))
			}
			return float64(fb.sumKeys(m, 0))
		case "impressions":
			return float64(L.get(key, m, 0))
		case "items_shown":
			return float64(L.get(key, m, 1))
		case "clicks":
			return float64(A.get(key, m, 0))
		case "clicked_lists":
			return float64(A.get(key, m, 1))
		case "ctr":
			return ratio(A.get(key, m, 1), L.get(key, m, 0))
		case "clicked_items":
			return float64(A.get(key, m, 2))
		case "item_ctr":
			return ratio(A.get(key, m, 2), L.get(key, m, 1))
		case "add_to_carts":
			return float64(A.get(key, m, 3))
		case "attributed_purchases":
			return float64(A.get(key, m, 4))
		case "converted_lists":
			return float64(A.get(key, m, 5))
		case "conversion_rate":
			return ratio(A.get(key, m, 5), L.get(key, m, 0))
		case "attributed_revenue":
			return float64(A.get(key, m, 6)) * 1e-6
		}
		t.Fatalf("no ClickHouse form of %s", metric)
		return 0
	}
	chKeys := func(metric, group string) []string {
		var tabs []chTable
		switch metric {
		case "events":
			tabs = []chTable{evs}
		case "fallbacks":
			tabs = []chTable{fb}
		case "purchases", "revenue":
			tabs = []chTable{purch}
		default:
			tabs = []chTable{lists[group], attr[group]}
		}
		var keys []string
		for _, tab := range tabs {
			for k := range tab {
				keys = append(keys, k)
			}
		}
		if group == analytics.GroupNone {
			return []string{"all"}
		}
		return keys
	}

	from, to := base.Add(-time.Hour), now.Add(3*time.Hour)
	m0 := analytics.Minute(from.UnixMilli())
	compared, nonzero := 0, 0
	for _, mi := range analytics.Metrics() {
		if mi.Unit == "ms" {
			continue
		}
		for _, g := range mi.GroupBy {
			res, err := agg.Series(mi.Name, g, from, to, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]analytics.Values{}
			for _, sr := range res.Series {
				got[sr.Key] = sr.Values
			}
			keys := map[string]bool{}
			for k := range got {
				keys[k] = true
			}
			for _, k := range chKeys(mi.Name, g) {
				keys[k] = true
			}
			for k := range keys {
				for i := range res.Timestamps {
					want := chValue(mi.Name, g, k, m0+int64(i))
					var have float64
					if v, ok := got[k]; ok {
						have = v[i]
					} else if mi.Unit == "ratio" {
						have = math.NaN()
					}
					same := have == want || (math.IsNaN(have) && math.IsNaN(want))
					if !same {
						t.Errorf("%s by %q, %s at %v: aggregator %v, ClickHouse %v", mi.Name, g, k, res.Timestamps[i], have, want)
					}
					compared++
					if want != 0 && !math.IsNaN(want) {
						nonzero++
					}
				}
			}
		}
	}
	t.Logf("compared %d points, %d non-zero", compared, nonzero)
	if nonzero < 1000 {
		t.Fatalf("only %d non-zero points compared", nonzero)
	}
}
