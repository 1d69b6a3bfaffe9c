package candidate

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
)

func cand(id, src string, score float32, via string) Candidate {
	c := Candidate{ID: id, Source: src, Via: via}
	c.Scores[SourceIndex(src)] = score
	return c
}

func TestSourceIndex(t *testing.T) {
	if len(Sources) != NumSources {
		t.Fatalf("len(Sources) = %d, NumSources = %d", len(Sources), NumSources)
	}
	for i, s := range Sources {
		if SourceIndex(s) != i {
			t.Errorf("SourceIndex(%q) = %d, want %d", s, SourceIndex(s), i)
		}
	}
	if SourceIndex("nope") != -1 {
		t.Error("SourceIndex of an unknown name is not -1")
	}
}

func TestMerge(t *testing.T) {
	scores := func(s ...float32) (a [NumSources]float32) { copy(a[:], s); return }
	tests := []struct {
		name  string
		lists [][]Candidate
		want  []Candidate
	}{
		{"empty", nil, []Candidate{}},
		{"one list kept as is",
			[][]Candidate{{cand("a", SrcPopular, 1, ""), cand("b", SrcPopular, 0.5, "")}},
			[]Candidate{cand("a", SrcPopular, 1, ""), cand("b", SrcPopular, 0.5, "")}},
		{"priority order",
			[][]Candidate{
				{cand("a", SrcCoVisit, 0.9, "x"), cand("b", SrcCoVisit, 0.5, "y")},
				{cand("b", SrcHistory, 0.7, ""), cand("c", SrcHistory, 0.25, "")},
				{cand("a", SrcPopular, 0.3, ""), cand("d", SrcPopular, 0.1, "")},
			},
			[]Candidate{
				{ID: "a", Source: SrcCoVisit, Via: "x", Scores: scores(0.9, 0, 0, 0, 0.3)},
				{ID: "b", Source: SrcCoVisit, Via: "y", Scores: scores(0.5, 0.7)},
				{ID: "c", Source: SrcHistory, Scores: scores(0, 0.25)},
				{ID: "d", Source: SrcPopular, Scores: scores(0, 0, 0, 0, 0.1)},
			}},
		{"a later, higher-priority source takes over Source and Via",
			[][]Candidate{
				{cand("a", SrcPopular, 0.3, "")},
				{cand("a", SrcTrending, 0.4, "")},
				{cand("a", SrcCoVisit, 0.8, "seed")},
			},
			[]Candidate{{ID: "a", Source: SrcCoVisit, Via: "seed", Scores: scores(0.8, 0, 0, 0.4, 0.3)}}},
		{"a lower-priority source keeps Via",
			[][]Candidate{
				{cand("a", SrcCoVisit, 0.8, "seed")},
				{cand("a", SrcHistory, 0.5, "")},
			},
			[]Candidate{{ID: "a", Source: SrcCoVisit, Via: "seed", Scores: scores(0.8, 0.5)}}},
		{"duplicate within a source keeps the higher score",
			[][]Candidate{{cand("a", SrcCategoryPopular, 0.2, ""), cand("a", SrcCategoryPopular, 0.6, "")}},
			[]Candidate{{ID: "a", Source: SrcCategoryPopular, Scores: scores(0, 0, 0.6)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Merge(tt.lists...)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Merge =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func ca(cat string, aff float64) feature.CatAffinity {
	return feature.CatAffinity{Category: cat, Affinity: aff}
}

func sc(id string, score float64) memstore.Scored { return memstore.Scored{ID: id, Score: score} }

func scoredList(prefix string, n int, top float64) []memstore.Scored {
	out := make([]memstore.Scored, n)
	for i := range out {
		out[i] = memstore.Scored{ID: fmt.Sprintf("%s%02d", prefix, i), Score: top - float64(i)}
	}
	return out
}

func countByPrefix(cs []Candidate) map[byte]int {
	m := map[byte]int{}
	for _, c := range cs {
		m[c.ID[0]]++
	}
	return m
}

func TestCategoryPopular(t *testing.T) {
	ix := &memstore.Index{ByCategory: map[string][]memstore.Scored{
		"x": scoredList("x", 40, 100), "y": scoredList("y", 40, 50), "z": scoredList("z", 40, 10), "w": scoredList("w", 40, 10),
	}}
	tests := []struct {
		name string
		src  CategoryPopular
		cats []feature.CatAffinity
		n    int
		want map[byte]int
	}{
		{"shared by affinity 3:1", CategoryPopular{}, []feature.CatAffinity{ca("x", 3), ca("y", 1)}, 20, map[byte]int{'x': 15, 'y': 5}},
		{"shared by affinity 1:1:2", CategoryPopular{}, []feature.CatAffinity{ca("z", 2), ca("x", 1), ca("y", 1)}, 40, map[byte]int{'z': 20, 'x': 10, 'y': 10}},
		{"at least five per category", CategoryPopular{}, []feature.CatAffinity{ca("x", 9), ca("y", 1)}, 10, map[byte]int{'x': 9, 'y': 5}},
		{"zero affinity: equal shares", CategoryPopular{}, []feature.CatAffinity{ca("x", 0), ca("y", 0)}, 20, map[byte]int{'x': 10, 'y': 10}},
		{"default: three categories", CategoryPopular{}, []feature.CatAffinity{ca("x", 4), ca("y", 3), ca("z", 2), ca("w", 1)}, 90,
			map[byte]int{'x': 40, 'y': 30, 'z': 20}},
		{"custom number of categories", CategoryPopular{Categories: 1}, []feature.CatAffinity{ca("y", 4), ca("x", 3)}, 12, map[byte]int{'y': 12}},
		{"short category list", CategoryPopular{}, []feature.CatAffinity{ca("x", 1), ca("nope", 1)}, 20, map[byte]int{'x': 10}},
		{"no categories", CategoryPopular{}, nil, 20, map[byte]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.src.Candidates(context.Background(), &Input{TopCats: tt.cats, Index: ix}, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if c := countByPrefix(got); !reflect.DeepEqual(c, tt.want) {
				t.Errorf("per category %v, want %v", c, tt.want)
			}
			for _, c := range got {
				if c.Source != SrcCategoryPopular {
					t.Errorf("source %q", c.Source)
				}
			}
		})
	}
	// Scores are each category's popularity normalised by its top item, in index order.
	got, _ := CategoryPopular{}.Candidates(context.Background(), &Input{TopCats: []feature.CatAffinity{ca("y", 1)}, Index: ix}, 5)
	for i, c := range got {
		want := float32((50 - float64(i)) / 50)
		if c.ID != fmt.Sprintf("y%02d", i) || math.Abs(float64(c.Scores[SourceIndex(SrcCategoryPopular)]-want)) > 1e-6 {
			t.Errorf("item %d = %+v, want y%02d at %v", i, c, i, want)
		}
	}
}

func TestPopularAndTrending(t *testing.T) {
	ix := &memstore.Index{MaxPop: 8, Global: []memstore.Scored{sc("a", 8), sc("b", 4), sc("c", 2)},
		Trending: []memstore.Scored{sc("t", 3), sc("u", 1.5)}}
	pop, _ := Popular{}.Candidates(context.Background(), &Input{Index: ix}, 2)
	want := []Candidate{cand("a", SrcPopular, 1, ""), cand("b", SrcPopular, 0.5, "")}
	if !reflect.DeepEqual(pop, want) {
		t.Errorf("Popular = %+v, want %+v", pop, want)
	}
	tr, _ := Trending{}.Candidates(context.Background(), &Input{Index: ix}, 10)
	want = []Candidate{cand("t", SrcTrending, 1, ""), cand("u", SrcTrending, 0.5, "")}
	if !reflect.DeepEqual(tr, want) {
		t.Errorf("Trending = %+v, want %+v", tr, want)
	}
	if tr, _ := (Trending{}).Candidates(context.Background(), &Input{Index: &memstore.Index{}}, 10); len(tr) != 0 {
		t.Errorf("Trending of an empty index = %+v", tr)
	}
}

func TestHistory(t *testing.T) {
	recent := func(p string, typ event.Type) feature.Recent { return feature.Recent{Product: p, Type: typ} }
	tests := []struct {
		name string
		user *feature.User
		n    int
		want []Candidate
	}{
		{"unknown user", nil, 10, nil},
		{"newest first, weighted, bought skipped",
			&feature.User{
				Recent: []feature.Recent{recent("a", event.View), recent("b", event.Click), recent("d", event.View),
					recent("c", event.AddToCart), recent("d", event.Purchase), recent("a", event.View), recent("e", event.View)},
				Bought: map[string]int32{"d": 1, "e": 2},
			}, 10,
			[]Candidate{cand("a", SrcHistory, 0.5, ""), cand("c", SrcHistory, 1, ""), cand("b", SrcHistory, 0.5, "")}},
		{"n respected",
			&feature.User{Recent: []feature.Recent{recent("a", event.View), recent("b", event.View), recent("c", event.View)}}, 2,
			[]Candidate{cand("c", SrcHistory, 0.25, ""), cand("b", SrcHistory, 0.25, "")}},
		{"only purchases: nothing",
			&feature.User{Recent: []feature.Recent{recent("a", event.Purchase)}, Bought: map[string]int32{"a": 1}}, 10, []Candidate{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := History{}.Candidates(context.Background(), &Input{User: tt.user}, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("History =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// fakeCoVisit serves fixed neighbour lists and records what it was asked.
type fakeCoVisit struct {
	lists map[string][]memstore.Scored
	asked []string
	ns    []int
}

func (f *fakeCoVisit) CoVisited(id string, n int) []memstore.Scored {
	f.asked = append(f.asked, id)
	f.ns = append(f.ns, n)
	l := f.lists[id]
	if len(l) > n {
		l = l[:n]
	}
	return l
}

func TestCoVisitation(t *testing.T) {
	lists := map[string][]memstore.Scored{
		"old":   {sc("o1", 10)},
		"mid":   {sc("m1", 4), sc("shared", 2)},
		"new":   {sc("shared", 6), sc("n1", 3)},
		"empty": nil,
	}
	user := func(products ...string) *feature.User {
		u := &feature.User{}
		for _, p := range products {
			u.Recent = append(u.Recent, feature.Recent{Product: p, Type: event.View})
		}
		return u
	}
	type want struct {
		id    string
		score float64
		via   string
	}
	tests := []struct {
		name  string
		src   CoVisitation
		user  *feature.User
		n     int
		asked []string
		want  []want
	}{
		{"unknown user", CoVisitation{}, nil, 10, nil, nil},
		{"no recent items", CoVisitation{}, &feature.User{}, 10, nil, nil},
		{"newest seeds first, weighted by recency",
			CoVisitation{}, user("old", "mid", "new"), 10, []string{"new", "mid", "old"},
			// new (w 1): shared 1, n1 0.5; mid (w 1/2): m1 0.5, shared 0.25; old (w 1/3): o1 1/3.
			[]want{{"shared", 1.25, "new"}, {"m1", 0.5, "mid"}, {"n1", 0.5, "new"}, {"o1", 1.0 / 3, "old"}}},
		{"seed limit keeps the newest",
			CoVisitation{Seeds: 2}, user("old", "mid", "new"), 10, []string{"new", "mid"},
			[]want{{"shared", 1.25, "new"}, {"m1", 0.5, "mid"}, {"n1", 0.5, "new"}}},
		{"repeated recent items are one seed",
			CoVisitation{Seeds: 2}, user("old", "new", "mid", "new"), 10, []string{"new", "mid"},
			[]want{{"shared", 1.25, "new"}, {"m1", 0.5, "mid"}, {"n1", 0.5, "new"}}},
		{"a seed without neighbours still uses up a seed",
			CoVisitation{Seeds: 2}, user("mid", "new", "empty"), 10, []string{"empty", "new"},
			[]want{{"shared", 0.5, "new"}, {"n1", 0.25, "new"}}},
		{"n respected", CoVisitation{}, user("old", "mid", "new"), 2, []string{"new", "mid", "old"},
			[]want{{"shared", 1.25, "new"}, {"m1", 0.5, "mid"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCoVisit{lists: lists}
			tt.src.Store = f
			got, err := tt.src.Candidates(context.Background(), &Input{User: tt.user}, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.asked, tt.asked) {
				t.Errorf("seeds asked %v, want %v", f.asked, tt.asked)
			}
			per := tt.src.PerSeed
			if per == 0 {
				per = 20
			}
			for _, n := range f.ns {
				if n != per {
					t.Errorf("asked for %d neighbours, want %d", n, per)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i, w := range tt.want {
				c := got[i]
				if c.ID != w.id || c.Via != w.via || c.Source != SrcCoVisit ||
					math.Abs(float64(c.Scores[SourceIndex(SrcCoVisit)])-w.score) > 1e-6 {
					t.Errorf("item %d = %+v, want %+v", i, c, w)
				}
			}
		})
	}
}
