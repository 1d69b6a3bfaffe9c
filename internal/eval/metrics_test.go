package eval

import (
	"math"
	"testing"
)

func set(xs ...int32) map[int32]bool {
	m := map[int32]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// Every expected figure is worked out by hand in the comment beside it
// (log2(3) = 1.5849625, log2(5) = 2.3219281).
func TestScoreHandComputed(t *testing.T) {
	l3, l5 := 1/math.Log2(3), 1/math.Log2(5)
	tests := []struct {
		name   string
		groups [][]int32
		truth  map[int32]bool
		k, rk  int
		want   Metrics
	}{
		{
			// Ranks 2 and 4: DCG = 1/log2 3 + 1/log2 5, ideal = 1 + 1/log2 3.
			name: "no ties", groups: [][]int32{{1}, {2}, {3}, {4}, {5}},
			truth: set(2, 4), k: 10, rk: 20,
			want: Metrics{HitRate: 1, NDCG: (l3 + l5) / (1 + l3), Recall: 1, MRR: 0.5},
		},
		{
			// One relevant item among 4 tied at the top, k = 2:
			// P(hit) = 2/4; E[DCG] = (1 + 1/log2 3)/4; E[RR] = (1 + 1/2)/4;
			// recall@3 = 3/4.
			name: "all tied", groups: [][]int32{{1, 2, 3, 4}},
			truth: set(3), k: 2, rk: 3,
			want: Metrics{HitRate: 0.5, NDCG: (1 + l3) / 4, Recall: 0.75, MRR: 0.375},
		},
		{
			// Item 9 first (not relevant), then 3 tied of which 2 relevant,
			// k = 2: one slot of the tie is in the top 2, P(miss) = 1/3;
			// E[DCG] = 2 x (1/log2 3)/3, ideal = 1 + 1/log2 3;
			// E[RR] = P(first relevant at rank 2) / 2 = (2/3)/2;
			// recall@3 = (2 x 2/3)/2.
			name: "tie across the cut", groups: [][]int32{{9}, {1, 2, 3}},
			truth: set(2, 3), k: 2, rk: 3,
			want: Metrics{HitRate: 2.0 / 3, NDCG: (2 * l3 / 3) / (1 + l3), Recall: 2.0 / 3, MRR: 1.0 / 3},
		},
		{
			// A relevant item that cannot be ranked still counts in |truth|:
			// rank 1 hit, ideal over min(2, 10) = 2 positions.
			name: "unrankable truth", groups: [][]int32{{5}, {6}},
			truth: set(5, 77), k: 10, rk: 20,
			want: Metrics{HitRate: 1, NDCG: 1 / (1 + l3), Recall: 0.5, MRR: 1},
		},
		{
			// Two relevant among 4 tied, k = 10 (all inside): hit certain;
			// E[DCG] = 2 x (1 + 1/log2 3 + 1/2 + 1/log2 5)/4;
			// E[RR]: P(min = 1) = 1/2, P(2) = 1/3, P(3) = 1/6 -> 1/2 + 1/6 + 1/18.
			name: "two relevant in a tie", groups: [][]int32{{1, 2, 3, 4}},
			truth: set(1, 4), k: 10, rk: 20,
			want: Metrics{HitRate: 1, NDCG: 2 * (1 + l3 + 0.5 + l5) / 4 / (1 + l3), Recall: 1, MRR: 0.5 + 1.0/6 + 1.0/18},
		},
		{
			name: "miss", groups: [][]int32{{1}, {2}}, truth: set(3), k: 10, rk: 20,
			want: Metrics{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Score(Ranked{Groups: tc.groups}, tc.truth, tc.k, tc.rk)
			check := func(name string, g, w float64) {
				if math.Abs(g-w) > 1e-12 {
					t.Errorf("%s = %.15f, want %.15f", name, g, w)
				}
			}
			check("hit", got.HitRate, tc.want.HitRate)
			check("ndcg", got.NDCG, tc.want.NDCG)
			check("recall", got.Recall, tc.want.Recall)
			check("mrr", got.MRR, tc.want.MRR)
		})
	}
}

func TestRankGroupsAndMask(t *testing.T) {
	nan := math.NaN()
	scores := []float64{0.5, 0.9, nan, 0.5, 0.1, 0.5, 0.9}
	r := Rank(scores, 3)
	// Top 3 slots reach into the 0.5 tie, which is kept whole.
	want := [][]int32{{1, 6}, {0, 3, 5}}
	if len(r.Groups) != len(want) {
		t.Fatalf("groups %v, want %v", r.Groups, want)
	}
	for i := range want {
		if len(r.Groups[i]) != len(want[i]) {
			t.Fatalf("groups %v, want %v", r.Groups, want)
		}
		for j := range want[i] {
			if r.Groups[i][j] != want[i][j] {
				t.Fatalf("groups %v, want %v", r.Groups, want)
			}
		}
	}
	if top := r.Top(3); len(top) != 3 || top[2] != 0 {
		t.Fatalf("top %v", top)
	}
	// A huge all-tied catalog: one relevant item among 10,000 gives a
	// hit rate of exactly 10/10,000.
	flat := make([]float64, 10000)
	m := Score(Rank(flat, 20), set(42), 10, 20)
	if math.Abs(m.HitRate-0.001) > 1e-12 || math.Abs(m.Recall-0.002) > 1e-12 {
		t.Fatalf("flat: %+v", m)
	}
}
