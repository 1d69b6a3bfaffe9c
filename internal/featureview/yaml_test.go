package featureview

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
)

const userYAML = `
views:
  - name: user_category_activity
    entity: user_category
    ttl: 7d
    description: per user and category
    features:
      - {name: clicks_1h, agg: window_count, events: [click], window: 1h}
      - {name: affinity, agg: decayed_count, half_life: 1h, weights: {view: 1, click: 2, purchase: 8}}
      - {name: last_product, agg: last, field: product_id}
      - {name: spend, type: float64, agg: sum, field: revenue, events: [purchase], default: 0}
on_demand:
  - name: engagement
    inputs: [user_category_activity:clicks_1h]
    func: "tier(10:hot, 2:warm, cold)"
`

func TestUserViewFromYAML(t *testing.T) {
	c, err := ParseYAML([]byte("file: extra.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	views, ods, err := c.Resolve(func(name string) ([]byte, error) {
		if name != "extra.yaml" {
			return nil, errors.New("no such file")
		}
		return []byte(userYAML), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 3 || views[2].TTL.D() != 7*24*time.Hour || len(ods) != 2 {
		t.Fatalf("views %d, ttl %v, on-demand %d", len(views), views[2].TTL, len(ods))
	}
	e, err := New(views, ods, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e.Apply(new(ev(event.Click, "u", "p1", "shoes", 10, float64(i))))
	}
	e.Apply(new(ev(event.View, "u", "p2", "books", 5, 30)))
	e.Apply(new(ev(event.Click, "u", "p3", "shoes", 10, 70))) // the window now holds minutes 10-70
	buy := ev(event.Purchase, "u", "p3", "shoes", 10, 70)
	buy.Event.Quantity = 2
	e.Apply(&buy)
	now := at(71)
	rows, err := e.Get("user_category_activity", []string{"u|shoes", "u|books", "u|toys"},
		[]string{"clicks_1h", "affinity", "last_product", "spend", "engagement"}, now)
	if err != nil {
		t.Fatal(err)
	}
	shoes := rows[0].Values
	// 3 clicks at 0-2 (out of the window at 71), then a click and a purchase at 70.
	wantAff := (2*math.Exp2(-70.0/60) + 2*math.Exp2(-69.0/60) + 2*math.Exp2(-68.0/60) + 2 + 8) * math.Exp2(-1.0/60)
	if shoes[0].Value != int64(1) || math.Abs(shoes[1].Value.(float64)-wantAff) > 1e-9 || shoes[2].Value != "p3" ||
		shoes[3].Value != 20.0 || shoes[4].Value != "cold" {
		t.Fatalf("u|shoes = %v %v %v %v %v", shoes[0].Value, shoes[1].Value, shoes[2].Value, shoes[3].Value, shoes[4].Value)
	}
	if books := rows[1].Values; books[0].Value != int64(0) || books[3].Value != 0.0 || books[0].Age != 41*time.Minute {
		t.Fatalf("u|books = %+v", books)
	}
	if rows[2].Values[0].Status != Missing {
		t.Fatalf("u|toys = %+v", rows[2].Values)
	}
	b, err := json.Marshal(e.ViewsJSON(now))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"user_category_activity"`, `"entity":"user_category"`, `"ttl":"7d"`,
		`"window":"1h0m0s"`, `"entities":2`, `"freshness_seconds":60`, `"name":"engagement"`, `"func":"tier(10:hot, 2:warm, cold)"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("views JSON lacks %s:\n%s", want, b)
		}
	}
}

func TestParseYAMLErrors(t *testing.T) {
	if _, err := ParseYAML([]byte("views:\n  - name: x\n    entitty: user\n")); err == nil || !strings.Contains(err.Error(), "entitty") {
		t.Errorf("unknown key: %v", err)
	}
	c, _ := ParseYAML([]byte("views:\n  - name: x\n    entity: user\n    features:\n      - {name: a, agg: cnt}\n"))
	_, _, err := c.Resolve(nil)
	if err == nil || !strings.Contains(err.Error(), `feature_views.views[0].features[0].agg: unknown aggregation "cnt"`) {
		t.Errorf("resolve: %v", err)
	}
	_, _, err = Config{File: "x.yaml"}.Resolve(func(string) ([]byte, error) {
		return []byte("on_demand:\n  - {name: t, inputs: [user_features:nope], func: ratio}\n"), nil
	})
	if err == nil || !strings.Contains(err.Error(), `feature_views.file(x.yaml).on_demand[0].inputs[0]: view "user_features" has no feature "nope"`) {
		t.Errorf("resolve file: %v", err)
	}
	off := false
	c = Config{Defaults: &off, Views: []View{{Name: "x", Entity: "session", Features: []Feature{{Name: "n", Agg: "count"}}}}}
	views, ods, err := c.Resolve(nil)
	if err != nil || len(views) != 1 || len(ods) != 0 {
		t.Errorf("defaults off: %v %v %v", views, ods, err)
	}
	var d Duration
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1.5h": 90 * time.Minute, "500ms": 500 * time.Millisecond} {
		if err := d.UnmarshalText([]byte(in)); err != nil || d.D() != want {
			t.Errorf("%s: %v %v", in, d, err)
		}
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil {
		t.Error("bad duration accepted")
	}
}
