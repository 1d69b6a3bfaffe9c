package train

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/rank"
)

// baskets makes a purchase log: each day, users buy a pair of items that
// go together; from day 20 on, a new pair (n1, n2) appears.
func baskets(t0 int64, days int) []event.Event {
	var evs []event.Event
	for d := 0; d < days; d++ {
		for u := 0; u < 12; u++ {
			a, b := fmt.Sprintf("p%d", u%4), fmt.Sprintf("p%d", 4+u%4)
			if d >= 20 && u%3 == 0 {
				a, b = "n1", "n2"
			}
			at := t0 + int64(d)*86_400_000 + int64(u)*60_000
			for _, p := range []string{a, b} {
				evs = append(evs, event.Event{Type: event.Purchase, UserID: fmt.Sprintf("u%d", (u+d)%30), ProductID: p, Quantity: 1, Time: at})
			}
		}
	}
	return evs
}

func TestSimilarAsOf(t *testing.T) {
	day := int64(86_400_000)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := baskets(t0, 40)
	ctx := context.Background()
	cuts := []int64{t0 + 30*day, t0 + 10*day}
	s, err := BuildSimilarAsOf(ctx, evs, candidate.SimilarOptions{Lambda: 1}, cuts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(s.Cuts) || len(s.Tables) != 2 {
		t.Fatalf("cuts %v, %d tables", s.Cuts, len(s.Tables))
	}
	// A cut before every event: an empty table, not an error.
	if e, err := BuildSimilarAsOf(ctx, evs, candidate.SimilarOptions{Lambda: 1}, []int64{t0 - day}); err != nil || len(e.Tables) != 1 || len(e.Tables[0]) != 0 {
		t.Errorf("cut before the log: %v, %+v", err, e)
	}
	// The day-10 table has never seen the pair that appears on day 20;
	// the day-30 one has.
	if _, ok := s.Tables[0]["n1"]; ok {
		t.Error("the table cut at day 10 knows an item first bought on day 20")
	}
	if _, ok := s.Tables[1]["n1"]; !ok {
		t.Error("the table cut at day 30 lacks n1")
	}
	user := &feature.User{Bought: map[string]int32{"n1": 1}}
	for _, tt := range []struct {
		name string
		now  int64
		want bool // n2 proposed from n1
	}{
		{"before the first cut: nothing", t0 + 5*day, false},
		{"at the first cut: its table", t0 + 10*day, false},
		{"between: the first table", t0 + 25*day, false},
		{"at the second cut: its table", t0 + 30*day, true},
		{"after: the newest table", t0 + 50*day, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Candidates(ctx, &candidate.Input{User: user, Now: tt.now}, 10)
			if err != nil {
				t.Fatal(err)
			}
			has := slices.ContainsFunc(got, func(c candidate.Candidate) bool { return c.ID == "n2" })
			if has != tt.want {
				t.Errorf("n2 proposed: %v, want %v (%+v)", has, tt.want, got)
			}
		})
	}
}

func TestReplaySimilar(t *testing.T) {
	day := int64(86_400_000)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := baskets(t0, 40)
	end := evs[len(evs)-1].Time + 1
	ctx := context.Background()
	o := candidate.SimilarOptions{Lambda: 1}
	full := candidate.SimilarTable{"x": nil}
	// A time-ordered log with a span: tables as of cuts every 10 days
	// from 30 days before the end, and From at the first cut.
	src, from, err := ReplaySimilar(ctx, evs, o, HistoryOptions{}, 30*24*time.Hour, 10*24*time.Hour, end, full)
	if err != nil {
		t.Fatal(err)
	}
	asOf, ok := src.(SimilarAsOf)
	if !ok || from != end-30*day || len(asOf.Cuts) != 3 || asOf.Cuts[0] != from {
		t.Fatalf("span: %T from %d (want %d), cuts %v", src, from, end-30*day, asOf.Cuts)
	}
	// Without a span: the table given.
	src, from, err = ReplaySimilar(ctx, evs, o, HistoryOptions{}, 0, 0, end, full)
	if s, ok := src.(candidate.Similar); err != nil || !ok || from != 0 || len(s.Table) != 1 {
		t.Fatalf("no span: %T %v from %d", src, err, from)
	}
	// Leave-one-out: a table without the held-out purchases, whatever
	// the span.
	src, from, err = ReplaySimilar(ctx, evs, o, HistoryOptions{LeaveOneOut: true, Positives: []event.Type{event.Purchase}}, 30*24*time.Hour, 0, end, full)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := src.(candidate.Similar); !ok || from != 0 || len(s.Table) < 2 {
		t.Fatalf("leave-one-out: %T from %d", src, from)
	}
}

// TestFromHistoryFrom checks that no query is built before From, while
// the events before it still build the state.
func TestFromHistoryFrom(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := history(3000, 1, t0)
	from := evs[2000].Time
	qs, err := FromHistory(context.Background(), evs, HistoryOptions{Seed: 3, From: from, Positives: []event.Type{event.Purchase}})
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 20 {
		t.Fatalf("only %d queries after From", len(qs))
	}
	col := slices.Index(rank.FeatureNames, "user_total_events")
	early := 0
	for _, q := range qs {
		if q.Time < from {
			t.Fatalf("query at %d, before From %d", q.Time, from)
		}
		if q.X[col] > 30 {
			early++ // a user whose state holds events from before From
		}
	}
	if early == 0 {
		t.Error("no query's state holds the events before From")
	}
}

// TestFromHistorySnapshots checks snapshot queries: built at cuts a week
// apart, each labelled with what the user bought in the month after it,
// against a state holding only the events before the cut.
func TestFromHistorySnapshots(t *testing.T) {
	day := int64(86_400_000)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := baskets(t0, 90)
	last := evs[len(evs)-1].Time
	o := HistoryOptions{Seed: 1, Positives: []event.Type{event.Purchase}, Snapshot: 7 * 24 * time.Hour, Horizon: 30 * 24 * time.Hour,
		MaxQueries: 1 << 30, RepeatPurchase: true, MaxNegatives: 1000,
		Sources: func(st *memstore.Store) []candidate.Source {
			return []candidate.Source{candidate.Popular{}, candidate.BuyAgain{}}
		}}
	qs, err := FromHistory(context.Background(), evs, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) == 0 {
		t.Fatal("no snapshot queries")
	}
	col := slices.Index(rank.FeatureNames, "user_purchases")
	cuts := map[int64]bool{}
	for _, q := range qs {
		cuts[q.Time] = true
		if (last-30*day-q.Time)%(7*day) != 0 || q.Time+30*day > last {
			t.Fatalf("query at %d: not a cut a week apart ending a month before the last event", q.Time)
		}
		bought, inWindow := 0, map[string]bool{}
		for _, e := range evs {
			if e.UserID != q.UserID {
				continue
			}
			if e.Time < q.Time {
				bought++
			} else if e.Time < q.Time+30*day {
				inWindow[e.ProductID] = true
			}
		}
		if got := q.X[col]; got != float32(bought) {
			t.Errorf("%s at %d: user_purchases %v, want %d (before the cut only)", q.UserID, q.Time, got, bought)
		}
		pos := 0
		for _, l := range q.Labels {
			if l > 0 {
				pos++
			}
		}
		if pos == 0 || pos > len(inWindow) {
			t.Errorf("%s at %d: %d positives, %d items bought in the window", q.UserID, q.Time, pos, len(inWindow))
		}
	}
	if len(cuts) < 5 {
		t.Errorf("queries at %d cuts, want a week apart over 60 days", len(cuts))
	}
}
