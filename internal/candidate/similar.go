package candidate

import (
	"bytes"
	"cmp"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/recohq/reco/internal/ease"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature/memstore"
)

// SimilarTable is a precomputed item-to-item table: for each item, its
// most similar items, best first, with positive weights. It is built
// offline (BuildSimilar) and read-only once a Similar source holds it.
type SimilarTable map[string][]memstore.Scored

// Similar proposes the items most similar to the user's own items under a
// precomputed table: an item's score is the sum, over the user's items i,
// of w(i) x table weight(i, item), where w(i) = log(1 + 1 x views + 3 x
// carts + 5 x purchases) of the user on i (views, clicks and carts counted
// in the user's recent items, purchases in Bought), divided by the best
// score so the top candidate scores 1. With an EASE table (BuildSimilar)
// this is EASE's score restricted to each item's top neighbours.
type Similar struct {
	Table SimilarTable
}

// Name is SrcSimilar.
func (Similar) Name() string { return SrcSimilar }

// Candidates returns the n best-scored items; items the user interacted
// with are included (the ranker and the rerank rules decide about them).
func (s Similar) Candidates(_ context.Context, in *Input, n int) ([]Candidate, error) {
	if in.User == nil || len(s.Table) == 0 {
		return nil, nil
	}
	w := UserItemWeights(in)
	acc := map[string]float64{}
	for id, wi := range w {
		for _, nb := range s.Table[id] {
			acc[nb.ID] += wi * nb.Score
		}
	}
	if len(acc) == 0 {
		return nil, nil
	}
	k := SourceIndex(SrcSimilar)
	out := make([]Candidate, 0, len(acc))
	for id, v := range acc {
		if v > 0 {
			out = append(out, one(id, SrcSimilar, v))
		}
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		if a.Scores[k] != b.Scores[k] {
			return cmp.Compare(b.Scores[k], a.Scores[k])
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(out) > n {
		out = out[:n]
	}
	if len(out) > 0 {
		if top := out[0].Scores[k]; top > 0 {
			for i := range out {
				out[i].Scores[k] /= top
			}
		}
	}
	return out, nil
}

// Behaviour weights of a user's row in BuildSimilar and Similar.
const (
	simViewWeight = 1
	simCartWeight = 3
	simBuyWeight  = 5
)

// UserItemWeights returns the user's log-damped, behaviour-weighted
// interaction with each item they touched: log(1 + 1 x views + 3 x carts
// + 5 x purchases), views (and clicks) and carts counted in in.User.Recent,
// purchases in in.User.Bought.
func UserItemWeights(in *Input) map[string]float64 {
	u := in.User
	raw := make(map[string]float64, len(u.Recent)+len(u.Bought))
	for _, r := range u.Recent {
		switch r.Type {
		case event.View, event.Click:
			raw[r.Product] += simViewWeight
		case event.AddToCart:
			raw[r.Product] += simCartWeight
		}
	}
	for id, c := range u.Bought {
		raw[id] += simBuyWeight * float64(c)
	}
	for id, v := range raw {
		raw[id] = math.Log1p(v)
	}
	return raw
}

// SimilarOptions configure BuildSimilar.
type SimilarOptions struct {
	Items     int     // items modelled, the most interacted (by distinct users); 0 means 6,000
	Lambda    float64 // EASE L2 regularisation; 0 means 200
	Neighbors int     // neighbours kept per item; 0 means 50
	Threads   int     // 0 means GOMAXPROCS
}

func (o SimilarOptions) withDefaults() SimilarOptions {
	if o.Items == 0 {
		o.Items = 6000
	}
	if o.Lambda == 0 {
		o.Lambda = 200
	}
	if o.Neighbors == 0 {
		o.Neighbors = 50
	}
	return o
}

// BuildSimilar fits EASE (package ease) on the behaviour events (views and
// clicks weigh 1, add-to-cart 3, purchases 5 per event, log-damped per
// user and item) over the o.Items most interacted items, and returns each
// item's o.Neighbors largest positive weights as a table for Similar. The
// cost is about Items³ multiply-adds: seconds for 4,000 items, about a
// minute for 6,000 on two cores.
func BuildSimilar(ctx context.Context, events []event.Event, o SimilarOptions) (SimilarTable, error) {
	o = o.withDefaults()
	type key struct{ u, i int32 }
	users, items := map[string]int32{}, map[string]int32{}
	var itemIDs []string
	agg := map[key]float64{}
	for k := range events {
		e := &events[k]
		var w float64
		switch e.Type {
		case event.View, event.Click:
			w = simViewWeight
		case event.AddToCart:
			w = simCartWeight
		case event.Purchase:
			w = simBuyWeight
		default:
			continue
		}
		u, ok := users[e.UserID]
		if !ok {
			u = int32(len(users))
			users[e.UserID] = u
		}
		i, ok := items[e.ProductID]
		if !ok {
			i = int32(len(itemIDs))
			items[e.ProductID] = i
			itemIDs = append(itemIDs, e.ProductID)
		}
		agg[key{u, i}] += w
	}
	if len(agg) == 0 {
		return nil, errors.New("similar: no behaviour events")
	}
	cnt := make([]int, len(itemIDs))
	for k := range agg {
		cnt[k.i]++
	}
	order := make([]int32, len(itemIDs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		if c := cmp.Compare(cnt[b], cnt[a]); c != 0 {
			return c
		}
		return strings.Compare(itemIDs[a], itemIDs[b])
	})
	if len(order) > o.Items {
		order = order[:o.Items]
	}
	col := make(map[int32]int32, len(order))
	for k, it := range order {
		col[it] = int32(k)
	}
	rows := make([][]ease.Entry, len(users))
	for k, v := range agg {
		if c, ok := col[k.i]; ok {
			rows[k.u] = append(rows[k.u], ease.Entry{Item: c, Value: float32(math.Log1p(v))})
		}
	}
	for _, r := range rows {
		slices.SortFunc(r, func(a, b ease.Entry) int { return cmp.Compare(a.Item, b.Item) })
	}
	m, err := ease.Fit(ctx, len(order), rows, ease.Options{Lambda: o.Lambda, Threads: o.Threads})
	if err != nil {
		return nil, err
	}
	n := m.N
	table := make(SimilarTable, n)
	for i := 0; i < n; i++ {
		row := m.B[i*n : (i+1)*n]
		var nb []memstore.Scored
		for j, b := range row {
			if b > 0 {
				nb = append(nb, memstore.Scored{ID: itemIDs[order[j]], Score: float64(b)})
			}
		}
		slices.SortFunc(nb, func(a, b memstore.Scored) int {
			if a.Score != b.Score {
				return cmp.Compare(b.Score, a.Score)
			}
			return strings.Compare(a.ID, b.ID)
		})
		if len(nb) > o.Neighbors {
			nb = slices.Clip(nb[:o.Neighbors])
		}
		if len(nb) > 0 {
			table[itemIDs[order[i]]] = nb
		}
	}
	return table, ctx.Err()
}

// Encode writes the table in a compact binary form (the registry keeps it
// beside the model trained with it).
func (t SimilarTable) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(map[string][]memstore.Scored(t)); err != nil {
		return nil, fmt.Errorf("encode similar items: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeSimilarTable reads a table written by Encode.
func DecodeSimilarTable(b []byte) (SimilarTable, error) {
	var m map[string][]memstore.Scored
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
		return nil, fmt.Errorf("decode similar items: %w", err)
	}
	return SimilarTable(m), nil
}
