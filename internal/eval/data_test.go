package eval

import (
	"fmt"
	"slices"
	"testing"

	"github.com/recohq/reco/internal/event"
)

// TestTaobaoSplitTime checks that the holdout split keeps the funnel order
// and nothing else: one time per behaviour, and each user's rows of one
// behaviour not in item-id order.
func TestTaobaoSplitTime(t *testing.T) {
	var rows []raw
	line := int64(0)
	add := func(u, i int, typ event.Type, test bool) {
		line++
		rows = append(rows, raw{user: fmt.Sprint(u), item: fmt.Sprintf("%03d", i), t: typ, time: line * 1000, test: test})
	}
	for _, typ := range []event.Type{event.View, event.AddToCart, event.Purchase} {
		for u := 0; u < 3; u++ {
			for i := 0; i < 40; i++ {
				if typ == event.View || i%5 == u {
					add(u, i, typ, false)
				}
			}
		}
	}
	for u := 0; u < 3; u++ {
		add(u, 100+u, event.Purchase, true)
	}
	ds, err := taobaoSplit(rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Train) != len(rows)-3 || len(ds.Eval) != 3 {
		t.Fatalf("%d training rows, %d evaluated users", len(ds.Train), len(ds.Eval))
	}
	times := map[event.Type]int64{}
	for k, x := range ds.Train {
		if old, ok := times[x.Type]; ok && old != x.Time {
			t.Fatalf("%v rows at %d and %d: want one time per behaviour", x.Type, old, x.Time)
		}
		times[x.Type] = x.Time
		if k > 0 && ds.Train[k-1].Time > x.Time {
			t.Fatal("training rows out of time order")
		}
	}
	if !(times[event.View] < times[event.AddToCart] && times[event.AddToCart] < times[event.Purchase] && times[event.Purchase] < ds.Split.UnixMilli()) {
		t.Errorf("times %v, split %v: want views < carts < buys < split", times, ds.Split)
	}
	var views []string
	for _, x := range ds.Train {
		if x.User == 0 && x.Type == event.View {
			views = append(views, ds.Items[x.Item])
		}
	}
	if len(views) != 40 || slices.IsSorted(views) {
		t.Errorf("user 0's views in item order: %v", views)
	}
	// Deterministic: the same rows give the same order.
	again, _ := taobaoSplit(rows)
	if !slices.Equal(again.Train, ds.Train) {
		t.Error("two splits of the same rows differ")
	}
}
