package recommend

import (
	"context"
	"errors"
	"testing"

	"github.com/recohq/reco/internal/rank"
)

type fakeRanker struct {
	v   string
	err error
	nan bool
}

func (f fakeRanker) Version() string { return f.v }

func (f fakeRanker) Score(_ context.Context, s *rank.Slate) error {
	if f.err != nil {
		return f.err
	}
	s.Scores = make([]float64, len(s.Items))
	for i := range s.Scores {
		s.Scores[i] = float64(len(s.Items) - i)
		if f.nan {
			s.Scores[i] = s.Scores[i] * 0 / 0.0
		}
	}
	return nil
}

func TestRankerFallbacks(t *testing.T) {
	st := loadStore(t, 500, 50, 20)
	broken := fakeRanker{v: "v2", err: errors.New("inference failed")}
	tests := []struct {
		name         string
		chain        []rank.Ranker
		wantVersion  string
		wantFallback string
	}{
		{"no model: rules, no fallback", nil, rank.RulesVersion, ""},
		{"model serves", []rank.Ranker{fakeRanker{v: "v2"}}, "v2", ""},
		{"model fails: previous version", []rank.Ranker{broken, fakeRanker{v: "v1"}}, "v1", "previous_model"},
		{"both fail: rules", []rank.Ranker{broken, fakeRanker{v: "v1", err: errors.New("x")}}, rank.RulesVersion, "rule_based_ranker"},
		{"NaN scores count as failure", []rank.Ranker{fakeRanker{v: "v2", nan: true}}, rank.RulesVersion, "rule_based_ranker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fallbacks []string
			s := New(st, nil, Options{
				Rankers: func(string) []rank.Ranker { return tc.chain },
				Hooks:   Hooks{OnFallback: func(f string) { fallbacks = append(fallbacks, f) }},
			})
			resp, err := s.Recommend(context.Background(), Request{UserID: "u000001", N: 5})
			if err != nil {
				t.Fatal(err)
			}
			if resp.ModelVersion != tc.wantVersion || resp.Fallback != tc.wantFallback {
				t.Errorf("served by %q with fallback %q, want %q and %q", resp.ModelVersion, resp.Fallback, tc.wantVersion, tc.wantFallback)
			}
			if len(resp.Items) != 5 {
				t.Errorf("%d items", len(resp.Items))
			}
			if tc.wantFallback != "" && (len(fallbacks) == 0 || fallbacks[len(fallbacks)-1] != tc.wantFallback) {
				t.Errorf("fallback hook saw %v", fallbacks)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	st := loadStore(t, 500, 50, 20)
	s := New(st, nil, Options{})
	resp, err := s.Recommend(context.Background(), Request{UserID: "u000001", N: 3, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range resp.Items {
		if len(it.Explanation) == 0 {
			t.Errorf("item %s has no explanation", it.ProductID)
		}
	}
	resp, _ = s.Recommend(context.Background(), Request{UserID: "u000001", N: 3})
	if len(resp.Items) == 0 || resp.Items[0].Explanation != nil {
		t.Errorf("explanation without asking: %+v", resp.Items)
	}
}
