package gbdt

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
)

// fuzzSeedModels trains tiny models of every objective and returns their
// JSON as Save writes it.
func fuzzSeedModels(tb testing.TB) [][]byte {
	tb.Helper()
	nan := float32(math.NaN())
	x := []float32{1, 0, 2, nan, 3, 1, 4, 0, 0, 5, 2, 2, nan, 1, 5, 3}
	var out [][]byte
	for _, c := range []struct {
		obj    Objective
		labels []float32
		groups []int
		names  []string
		depth  int
	}{
		{BinaryLogistic, []float32{0, 0, 1, 1, 0, 1, 0, 1}, nil, []string{"clicks", "price"}, 2},
		{RankNDCG, []float32{0, 1, 2, 0, 1, 0, 0, 3}, []int{4, 4}, nil, 3},
		{RegSquaredError, []float32{0.5, -1, 2, 3, 0, 1, 7, -2}, nil, []string{"a", "b"}, 1},
	} {
		p := DefaultParams()
		p.Objective, p.Rounds, p.MaxDepth, p.MinChildWeight, p.Threads = c.obj, 3, c.depth, 0, 1
		m, _, err := Train(context.Background(), p, &Dataset{X: x, Features: 2, Labels: c.labels, Groups: c.groups, FeatureNames: c.names}, nil)
		if err != nil {
			tb.Fatalf("train %s: %v", c.obj, err)
		}
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			tb.Fatalf("save %s: %v", c.obj, err)
		}
		out = append(out, buf.Bytes())
	}
	return out
}

// fuzzModelJSON is a hand-written model of one tree given by its node
// arrays, in the layout XGBoost writes.
func fuzzModelJSON(obj, base, nf, left, right, feat, cond, defLeft string) []byte {
	return []byte(`{"learner":{"attributes":{},"feature_names":[],"feature_types":[],"gradient_booster":{"name":"gbtree","model":` +
		`{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1"},"tree_info":[0],"trees":[{"id":0,` +
		`"left_children":[` + left + `],"right_children":[` + right + `],"split_indices":[` + feat + `],` +
		`"split_conditions":[` + cond + `],"default_left":[` + defLeft + `],"tree_param":{"num_feature":"` + nf + `"}}]}},` +
		`"learner_model_param":{"base_score":"` + base + `","num_class":"0","num_feature":"` + nf + `","num_target":"1"},` +
		`"objective":{"name":"` + obj + `"}},"version":[1,7,4]}`)
}

// fuzzChain is a tree that is a chain of depth splits on feature f, each
// left child a leaf.
func fuzzChain(depth, f int) (left, right, feat, cond, defLeft string) {
	var l, r, ft, c, d []string
	for i := 0; i < depth; i++ {
		// node 2i splits; 2i+1 is its leaf; 2i+2 the next split (or the last leaf).
		l, r = append(l, fmt.Sprint(2*i+1), "-1"), append(r, fmt.Sprint(2*i+2), "-1")
		ft, c, d = append(ft, fmt.Sprint(f), "0"), append(c, fmt.Sprintf("%d.5", i), fmt.Sprintf("%d.25", i)), append(d, fmt.Sprint(i%2), "0")
	}
	l, r, ft, c, d = append(l, "-1"), append(r, "-1"), append(ft, "0"), append(c, "-3.5"), append(d, "0")
	j := func(s []string) string { return strings.Join(s, ",") }
	return j(l), j(r), j(ft), j(c), j(d)
}

func fuzzLoadSeeds(tb testing.TB) [][]byte {
	seeds := fuzzSeedModels(tb)
	one := func(obj, base, nf string) []byte {
		return fuzzModelJSON(obj, base, nf, "1,-1,-1", "2,-1,-1", "1,0,0", "0.5,-1.0,1.0", "1,0,0")
	}
	l, r, ft, c, d := fuzzChain(12, 1)
	l3, r3, ft3, c3, d3 := fuzzChain(3, 2999)
	lDeep, rDeep, ftDeep, cDeep, dDeep := fuzzChain(257, 0)
	seeds = append(seeds,
		one("binary:logistic", "5E-1", "2"),
		one("rank:pairwise", "0", "2"),
		one("reg:linear", "-1.5E2", "2"),
		one("binary:logistic", "1", "2"),                                                             // base_score out of (0, 1)
		one("reg:squarederror", "nan", "2"),                                                          // base_score not finite
		one("rank:ndcg", "0", "1"),                                                                   // feature 1 out of range
		one("rank:ndcg", "0", "65537"),                                                               // too many features
		one("multi:softmax", "5E-1", "2"),                                                            // unsupported objective
		fuzzModelJSON("rank:ndcg", "0", "2", "-1", "-1", "0", "2.5", "0"),                            // a lone leaf
		fuzzModelJSON("rank:ndcg", "0", "2", "1,-1,-1", "1,-1,-1", "0,0,0", "0,1,2", "0,0,0"),        // shared child
		fuzzModelJSON("rank:ndcg", "0", "2", "1,0,-1", "2,-1,-1", "0,0,0", "0,1,2", "0,0,0"),         // cycle to the root
		fuzzModelJSON("rank:ndcg", "0", "2", "1,-1,-1", "3,-1,-1", "0,0,0", "0,1,2", "0,0,0"),        // child out of range
		fuzzModelJSON("rank:ndcg", "0", "2", "1,-1", "-1,-1", "0,0", "0,1", "0,0"),                   // left child only
		fuzzModelJSON("rank:ndcg", "0", "2", "1,-1,-1", "2,-1,-1", "0,0", "0,1,2", "0,0,0"),          // arrays differ
		fuzzModelJSON("rank:ndcg", "0", "2", "1,-1,-1", "2,-1,-1", "0,0,0", "0,1,2", "true,false,2"), // bad default_left
		fuzzModelJSON("binary:logistic", "2.5E-1", "2", l, r, ft, c, d),                              // deeper than the padded layout
		fuzzModelJSON("rank:ndcg", "0", "3000", l3, r3, ft3, c3, d3),                                 // wider than the padded layout
		fuzzModelJSON("rank:ndcg", "0", "1", lDeep, rDeep, ftDeep, cDeep, dDeep),                     // deeper than allowed
		[]byte(`{"learner":{"gradient_booster":{"name":"gbtree","model":{"trees":[]}},"learner_model_param":{"base_score":"0","num_feature":"4"},"objective":{"name":"rank:ndcg"}}}`),
		[]byte(`{"learner":{"gradient_booster":{"name":"gblinear"},"learner_model_param":{"base_score":"0","num_feature":"1"},"objective":{"name":"rank:ndcg"}}}`),
		[]byte(`{"learner":null}`),
		[]byte(`{}`),
		[]byte(`[]`),
		[]byte(``),
	)
	return seeds
}

// FuzzLoadModel loads arbitrary bytes as a model. Load must never panic and
// must allocate at most in proportion to its input. A model that loads must
// score rows (a row of NaNs first of all) exactly as a plain walk of its
// trees does, explain a row, and survive Save and Load unchanged.
func FuzzLoadModel(f *testing.F) {
	for _, s := range fuzzLoadSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		m, err := Load(bytes.NewReader(data))
		runtime.ReadMemStats(&ms1)
		if alloc, limit := ms1.TotalAlloc-ms0.TotalAlloc, uint64(8<<20+256*len(data)); alloc > limit {
			t.Fatalf("Load of %d bytes allocated %d bytes (limit %d)", len(data), alloc, limit)
		}
		if err != nil {
			if m != nil {
				t.Fatalf("model returned with error %v", err)
			}
			return
		}
		nf := m.NumFeatures()
		if nf < 1 || nf > maxFeatures {
			t.Fatalf("loaded a model of %d features", nf)
		}

		// A row of NaNs, then rows of other edge values: more than one
		// row group, so the blocked scorer's tail is used too.
		nan, inf := float32(math.NaN()), float32(math.Inf(1))
		fill := []func(j int) float32{
			func(int) float32 { return nan },
			func(int) float32 { return 0 },
			func(int) float32 { return float32(math.Copysign(0, -1)) },
			func(int) float32 { return inf },
			func(int) float32 { return -inf },
			func(j int) float32 { return []float32{nan, -1, 0.5, 1e30, 2, -0.25, 3.5}[j%7] },
			func(j int) float32 { return float32(j%5) - 1.5 },
			func(j int) float32 { return []float32{1, nan}[j%2] },
			func(j int) float32 { return float32(j) + 0.5 },
		}
		rows := len(fill)
		if nf > 4096 {
			rows = 2 // keep wide models cheap
		}
		x := make([]float32, rows*nf)
		for r := 0; r < rows; r++ {
			for j := 0; j < nf; j++ {
				x[r*nf+j] = fill[r](j)
			}
		}
		margin := make([]float64, rows)
		if err := m.PredictMargin(x, nf, margin); err != nil {
			t.Fatalf("PredictMargin: %v", err)
		}
		pred := make([]float64, 1)
		if err := m.Predict(x[:nf], nf, pred); err != nil {
			t.Fatalf("Predict on a row of NaNs: %v", err)
		}
		for r := 0; r < rows; r++ {
			want := referenceMargin(m, x[r*nf:(r+1)*nf])
			if !sameFloat(margin[r], want) {
				t.Fatalf("row %d: PredictMargin %v, tree walk %v", r, margin[r], want)
			}
		}
		phi, err := m.Contributions(x[:nf])
		if err != nil || len(phi) != nf+1 {
			t.Fatalf("Contributions: %d values, %v", len(phi), err)
		}
		_ = m.MaxDepth()
		_ = m.Importance()

		// Save and load again: the same model.
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			t.Fatalf("Save: %v", err)
		}
		m2, err := Load(&buf)
		if err != nil {
			t.Fatalf("a saved model does not load: %v", err)
		}
		if m2.NumFeatures() != nf || m2.NumTrees() != m.NumTrees() || m2.Objective() != m.Objective() || m2.BaseScore() != m.BaseScore() {
			t.Fatalf("saved and loaded: %d features, %d trees, %s, base %v; was %d, %d, %s, %v",
				m2.NumFeatures(), m2.NumTrees(), m2.Objective(), m2.BaseScore(), nf, m.NumTrees(), m.Objective(), m.BaseScore())
		}
		margin2 := make([]float64, rows)
		if err := m2.PredictMargin(x, nf, margin2); err != nil {
			t.Fatal(err)
		}
		for r := range margin {
			if !sameFloat(margin[r], margin2[r]) {
				t.Fatalf("row %d: margin %v, %v after Save and Load", r, margin[r], margin2[r])
			}
		}
	})
}

// referenceMargin scores one row by walking the node arrays, summing in
// float32 in the order the scorer does: padded trees, then general ones.
func referenceMargin(m *Model, row []float32) float64 {
	acc := float32(m.base)
	for _, padded := range []bool{true, false} {
		for i := range m.trees {
			t := &m.trees[i]
			if (t.depth() <= maxPadDepth && m.numFeature <= maxPadFeat && paddable(t)) == padded {
				acc += t.cond[t.leaf(row)]
			}
		}
	}
	return float64(acc)
}

func sameFloat(a, b float64) bool {
	return a == b || math.IsNaN(a) && math.IsNaN(b)
}
