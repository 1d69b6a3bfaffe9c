package candidate

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
)

func TestSimilar(t *testing.T) {
	table := SimilarTable{
		"a": {{ID: "x", Score: 0.5}, {ID: "y", Score: 0.25}},
		"b": {{ID: "y", Score: 1}, {ID: "z", Score: 0.1}},
	}
	// a viewed twice and carted (1+1+3 = 5), b bought once (5): equal
	// weights log(6), so y = (0.25 + 1) w, x = 0.5 w, z = 0.1 w.
	user := &feature.User{
		Recent: []feature.Recent{{Product: "a", Type: event.View}, {Product: "a", Type: event.AddToCart},
			{Product: "a", Type: event.View}, {Product: "b", Type: event.Purchase}},
		Bought: map[string]int32{"b": 1},
	}
	got, err := Similar{Table: table}.Candidates(context.Background(), &Input{User: user}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Candidate{cand("y", SrcSimilar, 1, ""), cand("x", SrcSimilar, float32(0.5/1.25), "")}
	if len(got) != len(want) {
		t.Fatalf("Similar = %+v, want %+v", got, want)
	}
	for i := range want {
		k := SourceIndex(SrcSimilar)
		if got[i].ID != want[i].ID || got[i].Source != SrcSimilar || math.Abs(float64(got[i].Scores[k]-want[i].Scores[k])) > 1e-6 {
			t.Errorf("Similar[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, _ := (Similar{Table: table}).Candidates(context.Background(), &Input{}, 5); got != nil {
		t.Errorf("unknown user: %+v, want none", got)
	}
}

// TestBuildSimilar checks the EASE table on two disjoint groups of items
// that users take together: each item's neighbours are its own group.
func TestBuildSimilar(t *testing.T) {
	var evs []event.Event
	for u := 0; u < 40; u++ {
		g := u % 2
		for i := 0; i < 3; i++ {
			if (u+i)%5 == 0 {
				continue // not every user takes every item
			}
			evs = append(evs, event.Event{Type: event.View, UserID: fmt.Sprint("u", u), ProductID: fmt.Sprintf("g%d-%d", g, i)})
		}
	}
	table, err := BuildSimilar(context.Background(), evs, SimilarOptions{Lambda: 1, Neighbors: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != 6 {
		t.Fatalf("table has %d items, want 6", len(table))
	}
	for id, nb := range table {
		if len(nb) != 2 {
			t.Errorf("%s has %d neighbours %v, want its 2 group mates", id, len(nb), nb)
		}
		for k, s := range nb {
			if s.ID[:2] != id[:2] || s.ID == id || s.Score <= 0 {
				t.Errorf("%s: neighbour %v is not a group mate with a positive weight", id, s)
			}
			if k > 0 && s.Score > nb[k-1].Score {
				t.Errorf("%s: neighbours not best first: %v", id, nb)
			}
		}
	}
	var _ []memstore.Scored = table["g0-0"]
}
