package recommend

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recohq/reco/internal/candidate"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/memstore"
	"github.com/recohq/reco/internal/rank"
)

// These tests make one stage slow with a sleeping fake and check which
// fallback the response names. They never assert on how long anything
// took: the fakes sleep far longer (seconds) than the budgets (tens of ms).

const (
	slow   = 3 * time.Second       // what a slow fake takes when nothing stops it
	budget = 30 * time.Millisecond // the budget of the stage under test
)

// slowSource proposes the first products of the popular index after delay,
// ignoring its context (as an in-process source may), or fails.
type slowSource struct {
	delay time.Duration
	err   error
}

func (slowSource) Name() string { return candidate.SrcSimilar }

func (s slowSource) Candidates(_ context.Context, in *candidate.Input, n int) ([]candidate.Candidate, error) {
	time.Sleep(s.delay)
	if s.err != nil {
		return nil, s.err
	}
	var out []candidate.Candidate
	for _, g := range in.Index.Global[:min(n, 5, len(in.Index.Global))] {
		c := candidate.Candidate{ID: g.ID, Source: candidate.SrcSimilar}
		c.Scores[candidate.SourceIndex(candidate.SrcSimilar)] = 1
		out = append(out, c)
	}
	return out, nil
}

// slowStore is a remote online store whose reads can be made slow; like
// the Redis adapter, a read gives up when its context ends.
type slowStore struct {
	*memstore.Store
	mu                     sync.Mutex
	slowUser, slowProducts bool
}

var _ FallibleStore = (*slowStore)(nil)

func (s *slowStore) set(user, products bool) {
	s.mu.Lock()
	s.slowUser, s.slowProducts = user, products
	s.mu.Unlock()
}

func (s *slowStore) wait(ctx context.Context, products bool) error {
	s.mu.Lock()
	d := s.slowUser
	if products {
		d = s.slowProducts
	}
	s.mu.Unlock()
	if !d {
		return nil
	}
	select {
	case <-time.After(slow):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *slowStore) ReadUser(ctx context.Context, id string) (*feature.User, error) {
	if err := s.wait(ctx, false); err != nil {
		return nil, err
	}
	u, _ := s.Store.User(id)
	return u, nil
}

func (s *slowStore) ReadProducts(ctx context.Context, ids []string, out []*feature.Product) error {
	if err := s.wait(ctx, true); err != nil {
		return err
	}
	s.Store.Products(ids, out)
	return nil
}

// slowRanker scores like fakeRanker after delay, or gives up when its
// context ends.
type slowRanker struct {
	v     string
	delay time.Duration
}

func (r slowRanker) Version() string { return r.v }

func (r slowRanker) Score(ctx context.Context, s *rank.Slate) error {
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return fakeRanker{v: r.v}.Score(ctx, s)
}

// seen collects the fallback hook's calls.
type seen struct {
	mu    sync.Mutex
	names []string
}

func (s *seen) hook(name string) {
	s.mu.Lock()
	s.names = append(s.names, name)
	s.mu.Unlock()
}

func (s *seen) has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.names, name)
}

func recommendOK(t *testing.T, s *Service, req Request) *Response {
	t.Helper()
	resp, err := s.Recommend(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Items) == 0 {
		t.Fatalf("no items (fallback %q)", resp.Fallback)
	}
	return resp
}

func TestBudgetCandidateSource(t *testing.T) {
	st := loadStore(t, 500, 50, 20)
	tests := []struct {
		name     string
		src      slowSource
		dropped  bool
		fallback string
	}{
		{"fast source is kept", slowSource{}, false, ""},
		{"late source is dropped", slowSource{delay: slow}, true, "source_similar"},
		{"failed source is dropped", slowSource{err: errors.New("down")}, true, "source_similar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hook seen
			var proposed []string
			s := New(st, nil, Options{
				Sources: []candidate.Source{candidate.History{}, candidate.CategoryPopular{}, candidate.Popular{}, tc.src},
				Budgets: Budgets{Candidates: budget},
				Hooks: Hooks{OnFallback: hook.hook, OnSource: func(src string, n int) {
					if n > 0 {
						proposed = append(proposed, src)
					}
				}},
			})
			resp := recommendOK(t, s, Request{UserID: "u000001", N: 5})
			if resp.Fallback != tc.fallback {
				t.Errorf("fallback %q, want %q", resp.Fallback, tc.fallback)
			}
			if got := slices.Contains(proposed, candidate.SrcSimilar); got == tc.dropped {
				t.Errorf("similar proposed candidates: %v (sources %v)", got, proposed)
			}
			if !slices.Contains(proposed, candidate.SrcPopular) || !slices.Contains(proposed, candidate.SrcHistory) {
				t.Errorf("the other sources were not kept: %v", proposed)
			}
			if tc.fallback != "" && !hook.has(tc.fallback) {
				t.Errorf("hook saw %v", hook.names)
			}
		})
	}
}

func TestBudgetScoring(t *testing.T) {
	st := loadStore(t, 500, 50, 20)
	tests := []struct {
		name         string
		chain        []rank.Ranker
		wantVersion  string
		wantFallback string
	}{
		{"model in time", []rank.Ranker{slowRanker{v: "v2"}}, "v2", ""},
		// The budget is spent on v2: v1 is not tried, the rules score.
		{"model late: rules", []rank.Ranker{slowRanker{v: "v2", delay: slow}, fakeRanker{v: "v1"}}, rank.RulesVersion, "rule_based_ranker"},
		{"model fails in time: previous", []rank.Ranker{fakeRanker{v: "v2", err: errors.New("x")}, slowRanker{v: "v1"}}, "v1", "previous_model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hook seen
			s := New(st, nil, Options{
				Rankers: func(string) []rank.Ranker { return tc.chain },
				Budgets: Budgets{Scoring: budget},
				Hooks:   Hooks{OnFallback: hook.hook},
			})
			resp := recommendOK(t, s, Request{UserID: "u000001", N: 5})
			if resp.ModelVersion != tc.wantVersion || resp.Fallback != tc.wantFallback {
				t.Errorf("served by %q with fallback %q, want %q and %q", resp.ModelVersion, resp.Fallback, tc.wantVersion, tc.wantFallback)
			}
			if tc.wantFallback != "" && !hook.has(tc.wantFallback) {
				t.Errorf("hook saw %v", hook.names)
			}
		})
	}
}

func TestBudgetFeatures(t *testing.T) {
	mem := loadStore(t, 500, 50, 20)
	tests := []struct {
		name                   string
		slowUser, slowProducts bool
		user                   string
		precomputed            bool
		wantFallback           string
	}{
		{"fast store", false, false, "u000001", false, ""},
		{"late user read: cache", true, false, "u000001", false, "feature_cache"},
		{"late product read: cache", false, true, "u000001", false, "feature_cache"},
		{"late reads, user never cached: popular", true, true, "u000002", false, "popular"},
		{"late reads, user never cached: precomputed", true, true, "u000002", true, "precomputed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &slowStore{Store: mem}
			var hook seen
			o := Options{
				Budgets: Budgets{Features: budget, Rerank: budget},
				Hooks:   Hooks{OnFallback: hook.hook},
			}
			if tc.precomputed {
				o.Precomputed = func(string) ([]Item, bool) { return []Item{{ProductID: "p000007"}}, true }
			}
			s := New(st, nil, o)
			// A first request, fast, fills the local cache with u000001 and
			// its candidates' products.
			recommendOK(t, s, Request{UserID: "u000001", N: 5})
			st.set(tc.slowUser, tc.slowProducts)
			resp := recommendOK(t, s, Request{UserID: tc.user, N: 5})
			if resp.Fallback != tc.wantFallback {
				t.Errorf("fallback %q, want %q", resp.Fallback, tc.wantFallback)
			}
			if tc.wantFallback != "" && !hook.has(tc.wantFallback) {
				t.Errorf("hook saw %v", hook.names)
			}
		})
	}
}

// TestBudgetExplain: past the rerank budget only the first item is
// explained, and the response says so.
func TestBudgetExplain(t *testing.T) {
	st := loadStore(t, 500, 50, 20)
	for _, tc := range []struct {
		name         string
		rerank       time.Duration
		wantFallback string
		wantN        int
	}{
		{"in budget", time.Hour, "", 5},
		{"spent", time.Nanosecond, "explain_partial", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(st, nil, Options{Budgets: Budgets{Rerank: tc.rerank}})
			resp := recommendOK(t, s, Request{UserID: "u000001", N: 5, Explain: true})
			n := 0
			for _, it := range resp.Items {
				if len(it.Explanation) > 0 {
					n++
				}
			}
			if resp.Fallback != tc.wantFallback || n != tc.wantN || len(resp.Items[0].Explanation) == 0 {
				t.Errorf("fallback %q, %d of %d items explained; want %q and %d", resp.Fallback, n, len(resp.Items), tc.wantFallback, tc.wantN)
			}
		})
	}
}

// TestDeadlinePassed: a request whose deadline passed during the feature
// read is answered with popular items, not an error.
func TestDeadlinePassed(t *testing.T) {
	st := loadStore(t, 500, 50, 20)
	s := New(st, nil, Options{})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	resp, err := s.Recommend(ctx, Request{UserID: "u000001", N: 5})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Fallback != "popular" || len(resp.Items) != 5 {
		t.Errorf("fallback %q with %d items", resp.Fallback, len(resp.Items))
	}
}

// TestFallbacksJoined: several fallbacks in one response, in stage order.
func TestFallbacksJoined(t *testing.T) {
	mem := loadStore(t, 500, 50, 20)
	st := &slowStore{Store: mem}
	s := New(st, nil, Options{
		Sources: []candidate.Source{candidate.History{}, candidate.Popular{}, slowSource{err: errors.New("down")}},
		Rankers: func(string) []rank.Ranker { return []rank.Ranker{slowRanker{v: "v2", delay: slow}} },
		Budgets: Budgets{Features: budget, Scoring: budget},
	})
	recommendOK(t, s, Request{UserID: "u000001", N: 5})
	st.set(true, false)
	resp := recommendOK(t, s, Request{UserID: "u000001", N: 5})
	want := []string{"feature_cache", "source_similar", "rule_based_ranker"}
	if !slices.Equal(resp.Fallbacks, want) || resp.Fallback != "feature_cache,source_similar,rule_based_ranker" {
		t.Errorf("fallbacks %v (%q), want %v", resp.Fallbacks, resp.Fallback, want)
	}
}

// TestNoBudgetsByDefault: a service without budgets waits for a slow
// model (offline evaluation must not depend on load).
func TestNoBudgetsByDefault(t *testing.T) {
	st := loadStore(t, 500, 50, 20)
	s := New(st, nil, Options{Rankers: func(string) []rank.Ranker { return []rank.Ranker{slowRanker{v: "v2", delay: 50 * time.Millisecond}} }})
	if resp := recommendOK(t, s, Request{UserID: "u000001", N: 5}); resp.ModelVersion != "v2" || resp.Fallback != "" {
		t.Errorf("served by %q with fallback %q", resp.ModelVersion, resp.Fallback)
	}
}

// TestNoBudgets: batch requests (precomputation) are bounded by their
// context alone, whatever the service's budgets.
func TestNoBudgets(t *testing.T) {
	st := loadStore(t, 500, 50, 20)
	s := New(st, nil, Options{
		Rankers: func(string) []rank.Ranker { return []rank.Ranker{slowRanker{v: "v2", delay: 20 * time.Millisecond}} },
		Budgets: Budgets{Scoring: time.Nanosecond}, // spent before the model starts
	})
	for _, tc := range []struct {
		noBudgets bool
		want      string
	}{{false, rank.RulesVersion}, {true, "v2"}} {
		resp := recommendOK(t, s, Request{UserID: "u000001", N: 5, NoBudgets: tc.noBudgets})
		if resp.ModelVersion != tc.want {
			t.Errorf("NoBudgets %v: served by %q (fallback %q), want %q", tc.noBudgets, resp.ModelVersion, resp.Fallback, tc.want)
		}
	}
}
