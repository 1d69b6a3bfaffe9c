package featureview_test

import (
	"fmt"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/featureview"
)

func Example() {
	views, ondemand := featureview.Defaults()
	e, err := featureview.New(views, ondemand, featureview.Options{})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, typ := range []event.Type{event.Click, event.Click, event.Purchase} {
		e.Apply(&event.Record{Kind: event.KindEvent, Event: event.Event{Type: typ, UserID: "u1", ProductID: "p1",
			Category: "shoes", Price: 30, Quantity: 1, Time: t0.Add(time.Duration(i) * time.Minute).UnixMilli()}})
	}
	rows, err := e.Get("user_features", []string{"u1", "u2"}, []string{"clicks", "purchase_rate", "purchase_tier"}, t0.Add(time.Hour))
	if err != nil {
		panic(err)
	}
	for _, r := range rows {
		for i, v := range r.Values {
			if i > 0 {
				fmt.Print(" | ")
			}
			fmt.Print(v.Value, " ", v.Status, " ", v.Age)
		}
		fmt.Println()
	}
	// Output:
	// 2 present 58m0s | 0.5 present 58m0s | high present 58m0s
	// <nil> missing 0s | <nil> missing 0s | <nil> missing 0s
}
