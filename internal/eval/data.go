package eval

import (
	"context"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"os"
	"slices"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/importer"
)

// Dataset is one protocol's split: the training input, and per evaluated
// user the relevant items and the masked ones. Items and users are dense
// indexes into Items and Users.
type Dataset struct {
	Name     string
	Variant  string // "all", "novel" or "" (holdout)
	Items    []string
	Cat      []string // per item; "" when unknown
	Users    []string
	Train    []Interaction // in time order
	Products []event.Product
	// Universe marks the items that are ranked (the rest never are).
	Universe []bool
	Eval     []EvalUser
	Split    time.Time // the clock at prediction time
	// History is each user's training interactions, aggregated per item.
	History [][]UserItem

	// From the loader, to carve a validation split.
	testFrom, testTo time.Time
	protocol         string
}

// Interaction is one training event.
type Interaction struct {
	User, Item int32
	Type       event.Type
	Time       int64
	Qty        int32
	Price      float64
}

// UserItem aggregates one user's training events on one item.
type UserItem struct {
	Item                 int32
	Views, Carts, Buys   int32
	BuyEvents            int32 // purchase lines (Online Retail: invoice lines)
	First, Last, LastBuy int64
}

// EvalUser is one user to score.
type EvalUser struct {
	User  int32
	Truth map[int32]bool
	Mask  map[int32]bool
}

type raw struct {
	user, item string
	t          event.Type
	time       int64
	qty        int32
	price      float64
	cat        string
	test       bool
}

func readFile(ctx context.Context, path, format string, includeTest bool) ([]raw, []event.Product, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var out []raw
	var ps []event.Product
	o := importer.Options{Format: format, IncludeTest: includeTest}
	err = importer.Parse(ctx, f, o, func(r importer.Row) error {
		if r.Event == nil {
			return nil
		}
		e := r.Event
		rw := raw{user: e.UserID, item: e.ProductID, t: e.Type, time: e.Time, qty: e.Quantity, price: e.Price,
			cat: e.Category, test: r.Split == "test"}
		out = append(out, rw)
		if r.Product != nil {
			ps = append(ps, *r.Product)
		}
		return nil
	})
	return out, ps, err
}

type indexer struct {
	ids []string
	m   map[string]int32
}

func (x *indexer) of(id string) int32 {
	if i, ok := x.m[id]; ok {
		return i
	}
	i := int32(len(x.ids))
	x.m[id] = i
	x.ids = append(x.ids, id)
	return i
}

func newIndexer() *indexer { return &indexer{m: map[string]int32{}} }

// RetailTestFrom and RetailTestTo bound the Online Retail test window
// (train before RetailTestFrom; test through 2011-12-09).
var (
	RetailTestFrom = time.Date(2011, 11, 9, 0, 0, 0, 0, time.UTC)
	RetailTestTo   = time.Date(2011, 12, 10, 0, 0, 0, 0, time.UTC)
	// RetailValidFrom starts the validation month carved from training.
	RetailValidFrom = time.Date(2011, 10, 9, 0, 0, 0, 0, time.UTC)
)

// LoadRetail reads the Online Retail CSV and applies the temporal protocol:
// train on purchases before testFrom, test on [testFrom, testTo); users
// with a purchase in both; truth = distinct test items (variant "all",
// nothing masked) or those minus the user's training purchases (variant
// "novel", which are masked; users left with no truth dropped). The items
// seen in training are ranked.
func LoadRetail(ctx context.Context, path string, testFrom, testTo time.Time, variant string) (*Dataset, error) {
	rows, ps, err := readFile(ctx, path, "online-retail", false)
	if err != nil {
		return nil, err
	}
	return retailSplit(rows, ps, testFrom, testTo, variant)
}

func retailSplit(rows []raw, ps []event.Product, testFrom, testTo time.Time, variant string) (*Dataset, error) {
	if variant != "all" && variant != "novel" {
		return nil, fmt.Errorf("variant %q: want all or novel", variant)
	}
	ds := &Dataset{Name: "online-retail", Variant: variant, Split: testFrom, testFrom: testFrom, testTo: testTo, protocol: "temporal"}
	users, items := newIndexer(), newIndexer()
	cats := map[string]string{}
	for _, p := range ps {
		cats[p.ID] = p.Category
	}
	from, to := testFrom.UnixMilli(), testTo.UnixMilli()
	test := map[int32]map[int32]bool{}
	var trainRows []raw
	for _, r := range rows {
		if r.t != event.Purchase {
			continue
		}
		switch {
		case r.time < from:
			trainRows = append(trainRows, r)
		case r.time < to:
		default:
			continue
		}
	}
	// Items and users of training first: the universe is exactly them.
	slices.SortStableFunc(trainRows, func(a, b raw) int { return cmpInt(a.time, b.time) })
	for _, r := range trainRows {
		u, i := users.of(r.user), items.of(r.item)
		ds.Train = append(ds.Train, Interaction{User: u, Item: i, Type: r.t, Time: r.time, Qty: r.qty, Price: r.price})
	}
	nTrainItems := len(items.ids)
	for _, r := range rows {
		if r.t != event.Purchase || r.time < from || r.time >= to {
			continue
		}
		u, ok := users.m[r.user]
		if !ok {
			continue // no training purchase
		}
		i := items.of(r.item)
		if test[u] == nil {
			test[u] = map[int32]bool{}
		}
		test[u][i] = true
	}
	ds.Items, ds.Users = items.ids, users.ids
	ds.Cat = make([]string, len(ds.Items))
	for i, id := range ds.Items {
		ds.Cat[i] = cats[id]
	}
	ds.Universe = make([]bool, len(ds.Items))
	for i := 0; i < nTrainItems; i++ {
		ds.Universe[i] = true
	}
	seenP := map[string]bool{}
	for _, p := range ps {
		if _, ok := items.m[p.ID]; ok && !seenP[p.ID] && int(items.m[p.ID]) < nTrainItems {
			seenP[p.ID] = true
			ds.Products = append(ds.Products, p)
		}
	}
	ds.buildHistory()
	for u := int32(0); u < int32(len(ds.Users)); u++ {
		truth := test[u]
		if len(truth) == 0 {
			continue
		}
		eu := EvalUser{User: u, Truth: truth}
		if variant == "novel" {
			eu.Truth, eu.Mask = map[int32]bool{}, map[int32]bool{}
			bought := map[int32]bool{}
			for _, h := range ds.History[u] {
				if h.Buys > 0 {
					bought[h.Item] = true
					eu.Mask[h.Item] = true
				}
			}
			for i := range truth {
				if !bought[i] {
					eu.Truth[i] = true
				}
			}
			if len(eu.Truth) == 0 {
				continue
			}
		}
		ds.Eval = append(ds.Eval, eu)
	}
	return ds, nil
}

// LoadTaobao reads the Taobao TSV and applies the holdout protocol: the
// split=train rows are the input; each user's split=test buy is the truth;
// every item is ranked, the user's training buys masked.
func LoadTaobao(ctx context.Context, path string) (*Dataset, error) {
	rows, _, err := readFile(ctx, path, "taobao", true)
	if err != nil {
		return nil, err
	}
	return taobaoSplit(rows)
}

func taobaoSplit(rows []raw) (*Dataset, error) {
	// The parser's synthetic clock puts every test row after every
	// training row: the first test row is the first row of the test block,
	// which starts after the last training buy.
	ds := &Dataset{Name: "taobao", protocol: "holdout"}
	users, items := newIndexer(), newIndexer()
	truth := map[int32]int32{}
	for _, r := range rows {
		u, i := users.of(r.user), items.of(r.item)
		if r.test {
			if r.t == event.Purchase {
				truth[u] = i
			}
			continue
		}
		ds.Train = append(ds.Train, Interaction{User: u, Item: i, Type: r.t, Time: r.time, Qty: 1, Price: -1})
	}
	// Within a behaviour the rows are ordered by user, then item id, and
	// item ids correlate with the targets (the data's README): the
	// importer's time per row (its line number) would carry that order
	// into every time-based feature (user_item_days), and the row order
	// into the stream's co-visitation windows and recent-items lists. One
	// time per behaviour keeps only the funnel order (views, then carts
	// 1 h later, then buys 2 h later), and each user's rows of one
	// behaviour are put in the order of a CRC-32 of user/item (not the
	// FNV hash that picks held-out buys, so the order says nothing of them).
	t0 := importer.TaobaoEpoch.UnixMilli()
	hash := make([]uint32, len(ds.Train))
	for k := range ds.Train {
		x := &ds.Train[k]
		switch x.Type {
		case event.View, event.Click:
			x.Time = t0
		case event.AddToCart:
			x.Time = t0 + 3600_000
		default:
			x.Time = t0 + 2*3600_000
		}
		hash[k] = crc32.ChecksumIEEE([]byte(users.ids[x.User] + "/" + items.ids[x.Item]))
	}
	order := make([]int, len(ds.Train))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := &ds.Train[a], &ds.Train[b]
		if c := cmpInt(x.Time, y.Time); c != 0 {
			return c
		}
		if c := cmpInt(int64(x.User), int64(y.User)); c != 0 {
			return c
		}
		return cmpInt(int64(hash[a]), int64(hash[b]))
	})
	shuffled := make([]Interaction, len(ds.Train))
	for k, o := range order {
		shuffled[k] = ds.Train[o]
	}
	ds.Train = shuffled
	ds.Items, ds.Users = items.ids, users.ids
	ds.Cat = make([]string, len(ds.Items))
	ds.Universe = make([]bool, len(ds.Items))
	for i := range ds.Universe {
		ds.Universe[i] = true
	}
	if n := len(ds.Train); n > 0 {
		ds.Split = time.UnixMilli(ds.Train[n-1].Time + 1000).UTC()
	}
	ds.buildHistory()
	for u := int32(0); u < int32(len(ds.Users)); u++ {
		it, ok := truth[u]
		if !ok {
			continue
		}
		eu := EvalUser{User: u, Truth: map[int32]bool{it: true}, Mask: map[int32]bool{}}
		for _, h := range ds.History[u] {
			if h.Buys > 0 {
				eu.Mask[h.Item] = true
			}
		}
		ds.Eval = append(ds.Eval, eu)
	}
	return ds, nil
}

func (ds *Dataset) buildHistory() {
	ds.History = make([][]UserItem, len(ds.Users))
	pos := make([]map[int32]int, len(ds.Users))
	for _, x := range ds.Train {
		m := pos[x.User]
		if m == nil {
			m = map[int32]int{}
			pos[x.User] = m
		}
		k, ok := m[x.Item]
		if !ok {
			k = len(ds.History[x.User])
			m[x.Item] = k
			ds.History[x.User] = append(ds.History[x.User], UserItem{Item: x.Item, First: x.Time})
		}
		h := &ds.History[x.User][k]
		switch x.Type {
		case event.View, event.Click:
			h.Views++
		case event.AddToCart:
			h.Carts++
		case event.Purchase:
			h.Buys += max(x.Qty, 1)
			h.BuyEvents++
			h.LastBuy = max(h.LastBuy, x.Time)
		}
		h.Last = max(h.Last, x.Time)
	}
}

// Validation carves a validation split out of ds's training data only,
// with the same protocol: Online Retail, the month before the test window
// (2011-10-09..11-08) becomes the test window; Taobao, one training buy
// per user (chosen by a hash of user and item) is held out.
func (ds *Dataset) Validation() (*Dataset, error) {
	switch ds.protocol {
	case "temporal":
		rows := make([]raw, 0, len(ds.Train))
		for _, x := range ds.Train {
			rows = append(rows, raw{user: ds.Users[x.User], item: ds.Items[x.Item], t: x.Type, time: x.Time, qty: x.Qty, price: x.Price})
		}
		var ps []event.Product
		for _, p := range ds.Products {
			ps = append(ps, p)
		}
		d := ds.testTo.Sub(ds.testFrom)
		from := ds.testFrom.Add(-d)
		if ds.testFrom.Equal(RetailTestFrom) {
			from = RetailValidFrom
		}
		return retailSplit(rows, ps, from, ds.testFrom, ds.Variant)
	case "holdout":
		// The held-out buy of each user with a training buy: the one with
		// the smallest hash of (user, item).
		best := map[int32]int{}
		bestH := map[int32]uint32{}
		for k, x := range ds.Train {
			if x.Type != event.Purchase {
				continue
			}
			h := fnv.New32a()
			fmt.Fprintf(h, "%s/%s", ds.Users[x.User], ds.Items[x.Item])
			v := h.Sum32()
			if old, ok := bestH[x.User]; !ok || v < old {
				best[x.User], bestH[x.User] = k, v
			}
		}
		held := map[int]bool{}
		for _, k := range best {
			held[k] = true
		}
		rows := make([]raw, 0, len(ds.Train))
		for k, x := range ds.Train {
			rows = append(rows, raw{user: ds.Users[x.User], item: ds.Items[x.Item], t: x.Type, time: x.Time, qty: 1, price: -1, test: held[k]})
		}
		return taobaoSplit(rows)
	}
	return nil, fmt.Errorf("no validation split for protocol %q", ds.protocol)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
