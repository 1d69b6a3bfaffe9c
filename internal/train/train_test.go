package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/rank"
	"github.com/recohq/reco/internal/registry"
)

// history makes a deterministic shop history: users browse a few
// categories, click and buy.
func history(n int, seed uint64, t0 int64) []event.Event {
	rng := rand.New(rand.NewPCG(seed, seed))
	var evs []event.Event
	for i := 0; i < n; i++ {
		u := rng.IntN(60)
		cat := u % 5
		p := cat*20 + rng.IntN(20)
		typ := []event.Type{event.View, event.View, event.Click, event.AddToCart, event.Purchase}[rng.IntN(5)]
		evs = append(evs, event.Event{Type: typ, UserID: fmt.Sprintf("u%d", u), ProductID: fmt.Sprintf("p%d", p),
			Category: fmt.Sprintf("c%d", cat), Price: float64(10 + p), Quantity: 1, SessionID: fmt.Sprintf("s%d-%d", u, i/200),
			Time: t0 + int64(i)*60_000})
	}
	return evs
}

func TestFromHistoryNoLeak(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	past := history(3000, 1, t0)
	cut := past[len(past)-1].Time
	q1, err := FromHistory(context.Background(), past, HistoryOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(q1) < 100 {
		t.Fatalf("only %d queries from 3000 events", len(q1))
	}
	// The future: heavy traffic on every product, after the cut. Replaying
	// with it must not change a single feature of any query up to the cut.
	future := history(3000, 2, cut+1)
	for i := range future {
		future[i].Type = event.Purchase
	}
	q2, err := FromHistory(context.Background(), append(slices.Clone(past), future...), HistoryOptions{Seed: 3, MaxQueries: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	var before []Query
	for _, q := range q2 {
		if q.Time <= cut {
			before = append(before, q)
		}
	}
	if len(before) != len(q1) {
		t.Fatalf("%d queries up to the cut with the future appended, %d without", len(before), len(q1))
	}
	for i := range q1 {
		if q1[i].Time != before[i].Time || q1[i].UserID != before[i].UserID || !sameFloats(q1[i].X, before[i].X) ||
			!slices.Equal(q1[i].Labels, before[i].Labels) {
			t.Fatalf("query %d changed when future events were added:\n%+v\n%+v", i, q1[i], before[i])
		}
	}
}

// TestFromHistoryRowPrecedesItsEvent checks the labelled event itself is
// not in its row: the first-ever purchase of a product is a query whose
// positive row shows the user had not bought it.
func TestFromHistoryRowPrecedesItsEvent(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := history(2000, 5, t0)
	qs, err := FromHistory(context.Background(), evs, HistoryOptions{Seed: 1, Positives: []event.Type{event.Purchase}})
	if err != nil {
		t.Fatal(err)
	}
	users := slices.Index(rank.FeatureNames, "user_purchases")
	checked := 0
	for _, q := range qs {
		// The row's purchase count is the user's purchases strictly before
		// the labelled one: count them from the events.
		want := 0
		for _, e := range evs {
			if e.UserID == q.UserID && e.Type == event.Purchase && e.Time < q.Time {
				want++
			}
		}
		got := q.X[users]
		if got != got && want == 0 {
			got = 0 // a user with no history at all
		}
		if got != float32(want) {
			t.Fatalf("query of %s at %d: user_purchases %v, want %d (earlier purchases only)", q.UserID, q.Time, got, want)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no purchase queries")
	}
}

func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

func TestFromImpressionsLabels(t *testing.T) {
	vec := func(v float32) []float32 {
		x := make([]float32, rank.NumFeatures)
		x[0] = v
		return x
	}
	recs := []event.Record{
		{Kind: event.KindImpression, Impression: event.Impression{RequestID: "r1", UserID: "u", Time: 1000, FeatureNames: rank.FeatureNames,
			Items: []event.ImpressionItem{{ProductID: "a", Features: vec(1)}, {ProductID: "b", Features: vec(2)}, {ProductID: "c", Features: vec(3)}}}},
		// A click on b, a purchase on c; a click on a for another request; a late click.
		{Kind: event.KindEvent, Event: event.Event{Type: event.Click, ProductID: "b", RequestID: "r1", Time: 2000}},
		{Kind: event.KindEvent, Event: event.Event{Type: event.Purchase, ProductID: "c", RequestID: "r1", Time: 3000}},
		{Kind: event.KindEvent, Event: event.Event{Type: event.Click, ProductID: "c", RequestID: "r1", Time: 3000}},
		{Kind: event.KindEvent, Event: event.Event{Type: event.Click, ProductID: "a", RequestID: "r2", Time: 2000}},
		{Kind: event.KindEvent, Event: event.Event{Type: event.Click, ProductID: "a", RequestID: "r1", Time: 1000 + 2*3600_000}},
		// An impression with another schema is skipped.
		{Kind: event.KindImpression, Impression: event.Impression{RequestID: "r3", FeatureNames: []string{"x"},
			Items: []event.ImpressionItem{{ProductID: "a", Features: []float32{1}}}}},
	}
	// The click event for r1 arrives before the impression in scan order
	// (another partition): put one first.
	recs = append([]event.Record{{Kind: event.KindEvent, Event: event.Event{Type: event.AddToCart, ProductID: "b", RequestID: "r1", Time: 2500}}}, recs...)
	scan := func(fn func(r *event.Record) error) error {
		for i := range recs {
			r := recs[i]
			if err := fn(&r); err != nil {
				return err
			}
		}
		return nil
	}
	qs, err := FromImpressions(scan, time.Hour, LabelWeights{})
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 {
		t.Fatalf("%d queries, want 1", len(qs))
	}
	want := []float32{0, 2, 4} // a: only a late or foreign click; b: click then cart; c: purchase
	if !slices.Equal(qs[0].Labels, want) {
		t.Errorf("labels %v, want %v", qs[0].Labels, want)
	}
	if qs[0].X[rank.NumFeatures] != 2 {
		t.Errorf("features not carried: %v", qs[0].X[:2*rank.NumFeatures])
	}
}

func TestRunFromHistoryRegisters(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := history(6000, 9, t0)
	scan := func(fn func(r *event.Record) error) error {
		for i := range evs {
			r := event.Record{Kind: event.KindEvent, Event: evs[i]}
			if err := fn(&r); err != nil {
				return err
			}
		}
		return nil
	}
	reg, err := registry.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Scan: scan, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != "history" || res.Meta.TrainRows == 0 || res.Meta.ValidRows == 0 {
		t.Fatalf("result %+v", res.Meta)
	}
	// The user's taste is learnable: better than chance on the later slice.
	if auc := res.Meta.Metrics["auc"]; !(auc > 0.6) {
		t.Errorf("evaluation AUC %v, want > 0.6", auc)
	}
	m, meta, err := reg.Load(res.Meta.Version)
	if err != nil {
		t.Fatal(err)
	}
	if meta.SchemaHash != rank.SchemaHash() || m.NumFeatures() != rank.NumFeatures || meta.Trees == 0 {
		t.Errorf("registered %+v", meta)
	}
	if !meta.DataTo.After(meta.DataFrom) {
		t.Errorf("data window %v..%v", meta.DataFrom, meta.DataTo)
	}
}

// TestFromHistoryLeaveOneOut checks the leave-one-out mode: at most one
// query per user, built on a state that holds every event but the
// held-out one (the user's purchase count is one short of all of them).
func TestFromHistoryLeaveOneOut(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := history(3000, 7, t0)
	qs, err := FromHistory(context.Background(), evs, HistoryOptions{Seed: 1, Positives: []event.Type{event.Purchase}, LeaveOneOut: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 20 {
		t.Fatalf("only %d leave-one-out queries", len(qs))
	}
	total := map[string]int{}
	for _, e := range evs {
		if e.Type == event.Purchase {
			total[e.UserID]++
		}
	}
	col := slices.Index(rank.FeatureNames, "user_purchases")
	users := map[string]bool{}
	for _, q := range qs {
		if users[q.UserID] {
			t.Fatalf("two queries for %s", q.UserID)
		}
		users[q.UserID] = true
		if got := q.X[col]; got != float32(total[q.UserID]-1) {
			t.Errorf("%s: user_purchases %v, want %d (all but the held-out one)", q.UserID, got, total[q.UserID]-1)
		}
		pos := 0
		for _, l := range q.Labels {
			if l > 0 {
				pos++
			}
		}
		if pos != 1 {
			t.Errorf("%s: %d positives, want 1", q.UserID, pos)
		}
	}
}
