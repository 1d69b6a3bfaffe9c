package gbdt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCalcGainAndWeight(t *testing.T) {
	cases := []struct {
		name            string
		p               Params
		s               ghSum
		wantGain, wantW float64
	}{
		{"plain", Params{Lambda: 1, MinChildWeight: 1}, ghSum{-4, 3}, 16.0 / 4, 4.0 / 4},
		{"lambda", Params{Lambda: 5, MinChildWeight: 1}, ghSum{6, 5}, 36.0 / 10, -6.0 / 10},
		{"alpha shrinks", Params{Lambda: 1, Alpha: 1, MinChildWeight: 1}, ghSum{-4, 3}, 9.0 / 4, 3.0 / 4},
		{"alpha zeroes", Params{Lambda: 1, Alpha: 5, MinChildWeight: 1}, ghSum{-4, 3}, 0, 0},
		{"alpha positive g", Params{Lambda: 0, Alpha: 1, MinChildWeight: 0}, ghSum{3, 2}, 4.0 / 2, -2.0 / 2},
		{"below min_child_weight", Params{Lambda: 1, MinChildWeight: 4}, ghSum{-4, 3}, 0, 0},
		{"no hessian", Params{Lambda: 1}, ghSum{-4, 0}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if g := calcGain(&c.p, c.s); math.Abs(g-c.wantGain) > 1e-12 {
				t.Errorf("calcGain = %v, want %v", g, c.wantGain)
			}
			if w := calcWeight(&c.p, c.s); math.Abs(w-c.wantW) > 1e-12 {
				t.Errorf("calcWeight = %v, want %v", w, c.wantW)
			}
		})
	}
}

// TestSplitGainAndLeaves checks one split against the formulas by hand:
// loss_chg = G_L²/(H_L+λ) + G_R²/(H_R+λ) - G²/(H+λ), leaf = -G/(H+λ)·eta.
func TestSplitGainAndLeaves(t *testing.T) {
	d := &Dataset{X: []float32{0, 0, 0, 1, 1, 1, 1, 1}, Features: 1, Labels: []float32{0, 0, 0, 1, 1, 1, 1, 0}}
	p := DefaultParams()
	p.Rounds, p.MaxDepth, p.Eta, p.Lambda, p.MinChildWeight = 1, 1, 0.5, 2, 0
	m, _, err := Train(context.Background(), p, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &m.trees[0]
	// At margin 0, g = 0.5 - y and h = 0.25 for every row.
	gl, hl := 3*0.5, 3*0.25
	gr, hr := 4*-0.5+0.5, 5*0.25
	g, h := gl+gr, hl+hr
	lam := 2.0
	want := gl*gl/(hl+lam) + gr*gr/(hr+lam) - g*g/(h+lam)
	if math.Abs(float64(tr.lossChg[0])-want) > 1e-5 {
		t.Errorf("loss_chg = %v, want %v", tr.lossChg[0], want)
	}
	if tr.cond[0] != 1 || tr.feat[0] != 0 {
		t.Errorf("split f%d < %v, want f0 < 1", tr.feat[0], tr.cond[0])
	}
	if l := float64(tr.cond[tr.left[0]]); math.Abs(l-(-gl/(hl+lam)*0.5)) > 1e-6 {
		t.Errorf("left leaf %v, want %v", l, -gl/(hl+lam)*0.5)
	}
	if r := float64(tr.cond[tr.right[0]]); math.Abs(r-(-gr/(hr+lam)*0.5)) > 1e-6 {
		t.Errorf("right leaf %v, want %v", r, -gr/(hr+lam)*0.5)
	}
	if float64(tr.sumHess[0]) != h {
		t.Errorf("cover %v, want %v", tr.sumHess[0], h)
	}
}

// TestGammaBlocksSplit: a split whose gain is below gamma is not made.
func TestGammaBlocksSplit(t *testing.T) {
	d := &Dataset{X: []float32{0, 0, 0, 1, 1, 1, 1, 1}, Features: 1, Labels: []float32{0, 0, 0, 1, 1, 1, 1, 0}}
	p := DefaultParams()
	p.Rounds, p.MaxDepth, p.MinChildWeight = 1, 3, 0
	m, _, _ := Train(context.Background(), p, d, nil)
	gain := float64(m.trees[0].lossChg[0])
	p.Gamma = gain + 0.01
	m, _, _ = Train(context.Background(), p, d, nil)
	if n := m.trees[0].numNodes(); n != 1 {
		t.Fatalf("gamma above the gain: tree has %d nodes, want a lone leaf", n)
	}
}

// TestMissingDirection crafts data where missing values behave like high
// values in one feature and like low values in another.
func TestMissingDirection(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name        string
		missingY    float32
		wantDefLeft bool
	}{
		{"missing like high values", 1, false},
		{"missing like low values", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d Dataset
			d.Features = 1
			for i := 0; i < 2000; i++ {
				v := float32(rng.Float64())
				y := float32(0)
				if v > 0.5 {
					y = 1
				}
				if i%5 == 0 {
					v, y = float32(math.NaN()), c.missingY
				}
				d.X = append(d.X, v)
				d.Labels = append(d.Labels, y)
			}
			p := DefaultParams()
			p.Rounds, p.MaxDepth = 1, 1
			m, _, err := Train(context.Background(), p, &d, nil)
			if err != nil {
				t.Fatal(err)
			}
			tr := &m.trees[0]
			if tr.numNodes() != 3 {
				t.Fatalf("%d nodes", tr.numNodes())
			}
			if tr.defLeft[0] != c.wantDefLeft {
				t.Errorf("default_left = %v, want %v", tr.defLeft[0], c.wantDefLeft)
			}
			if math.Abs(float64(tr.cond[0])-0.5) > 0.01 {
				t.Errorf("threshold %v, want about 0.5", tr.cond[0])
			}
			out := make([]float64, 1)
			m.Predict([]float32{float32(math.NaN())}, 1, out)
			if (out[0] > 0.5) != (c.missingY == 1) {
				t.Errorf("missing row scores %v", out[0])
			}
		})
	}
}

func TestEarlyStopping(t *testing.T) {
	train := syntheticBinary(3000, 10, 1)
	valid := syntheticBinary(2000, 10, 2)
	p := DefaultParams()
	p.Rounds, p.MaxDepth, p.Eta, p.EarlyStoppingRounds = 500, 8, 0.5, 5
	var seen int
	p.OnRound = func(RoundResult) { seen++ }
	m, rep, err := Train(context.Background(), p, train, valid)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rounds >= 500 {
		t.Fatalf("ran all %d rounds", rep.Rounds)
	}
	if rep.Rounds != rep.BestIteration+1+5 || seen != rep.Rounds {
		t.Errorf("rounds %d, best %d, callbacks %d", rep.Rounds, rep.BestIteration, seen)
	}
	if m.NumTrees() != rep.BestIteration+1 {
		t.Errorf("%d trees kept, want %d", m.NumTrees(), rep.BestIteration+1)
	}
	if v, _ := m.Attribute("best_iteration"); v == "" {
		t.Error("no best_iteration attribute")
	}
	// The kept model scores the best validation logloss.
	pr := make([]float64, valid.Rows())
	m.Predict(valid.X, valid.Features, pr)
	if ll := LogLoss(valid.Labels, pr); math.Abs(ll-rep.BestScore) > 1e-6 {
		t.Errorf("kept model logloss %v, best score %v", ll, rep.BestScore)
	}
	if _, _, err := Train(context.Background(), p, train, nil); err == nil {
		t.Error("early stopping without a validation set: no error")
	}
}

func modelJSON(t *testing.T, m *Model) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDeterministic(t *testing.T) {
	d := syntheticBinary(5000, 10, 1)
	p := DefaultParams()
	p.Rounds, p.Subsample, p.ColsampleByTree, p.Seed = 20, 0.7, 0.6, 42
	train := func(threads int, seed uint64) []byte {
		p := p
		p.Threads, p.Seed = threads, seed
		m, _, err := Train(context.Background(), p, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		return modelJSON(t, m)
	}
	a, b, c := train(2, 42), train(2, 42), train(1, 42)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different models")
	}
	if !bytes.Equal(a, c) {
		t.Error("1 and 2 threads give different models")
	}
	if bytes.Equal(a, train(2, 43)) {
		t.Error("different seeds, same model")
	}
}

// TestSiblingSubtraction checks that the larger child's histogram, got by
// subtraction, equals a direct build.
func TestSiblingSubtraction(t *testing.T) {
	d := syntheticBinary(4000, 6, 5)
	p := DefaultParams().withDefaults()
	tr := newTrainer(&p, d)
	gradients(&p, d, nil, tr.margin, tr.gh)
	n := tr.sample()
	root := &tnode{begin: 0, end: n, hist: tr.getHist()}
	for _, r := range tr.rows[:n] {
		root.sum.g += float64(tr.gh[r].g)
		root.sum.h += float64(tr.gh[r].h)
	}
	tr.buildHists([]*tnode{root})
	tr.evalSplits([]*tnode{root})
	l, r := &tnode{}, &tnode{}
	tr.partition([]*tnode{root}, []*tnode{l, r})
	if l.end-l.begin == 0 || r.end-r.begin == 0 {
		t.Fatal("empty child")
	}
	l.hist, r.hist = tr.getHist(), tr.getHist()
	tr.buildHists([]*tnode{l, r})
	for i := range root.hist {
		for _, c := range [2]struct{ sm, lg *tnode }{{l, r}, {r, l}} {
			sub := root.hist[i].sub(c.sm.hist[i])
			if math.Abs(sub.g-c.lg.hist[i].g) > 1e-9 || math.Abs(sub.h-c.lg.hist[i].h) > 1e-9 {
				t.Fatalf("slot %d: parent-sibling %v, direct %v", i, sub, c.lg.hist[i])
			}
		}
	}
	// The children's sums match the split's.
	var ls ghSum
	for _, h := range l.hist[tr.b.offs[0]:tr.b.offs[1]] {
		ls.g += h.g
		ls.h += h.h
	}
	if math.Abs(ls.h-root.best.left.h) > 1e-9 {
		t.Errorf("left hessian %v, split says %v", ls.h, root.best.left.h)
	}
}

func TestImportance(t *testing.T) {
	d := syntheticBinary(3000, 8, 1)
	p := DefaultParams()
	p.Rounds = 10
	m, _, err := Train(context.Background(), p, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	var gain, cover float64
	splits := 0
	for i := range m.trees {
		tr := &m.trees[i]
		for j := range tr.left {
			if tr.left[j] >= 0 {
				gain += float64(tr.lossChg[j])
				cover += float64(tr.sumHess[j])
				splits++
			}
		}
	}
	var g, c float64
	n := 0
	for _, fi := range m.Importance() {
		g += fi.TotalGain
		c += fi.TotalCover
		n += fi.Splits
		if fi.Splits > 0 && (math.Abs(fi.Gain*float64(fi.Splits)-fi.TotalGain) > 1e-9 || math.Abs(fi.Cover*float64(fi.Splits)-fi.TotalCover) > 1e-9) {
			t.Errorf("feature %d: averages do not match totals: %+v", fi.Feature, fi)
		}
	}
	if math.Abs(g-gain) > 1e-6 || math.Abs(c-cover) > 1e-6 || n != splits {
		t.Errorf("importance sums gain %v cover %v splits %d, trees have %v %v %d", g, c, n, gain, cover, splits)
	}
	// The uninformative half of the features gets little gain.
	imp := m.Importance()
	var informative, noise float64
	for f, fi := range imp {
		if f < 4 {
			informative += fi.TotalGain
		} else {
			noise += fi.TotalGain
		}
	}
	if informative < 5*noise {
		t.Errorf("informative gain %v, noise gain %v", informative, noise)
	}
}

func TestLambdaMARTImprovesNDCG(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	mk := func(queries int) *Dataset {
		d := &Dataset{Features: 4}
		for q := 0; q < queries; q++ {
			n := 10 + rng.IntN(20)
			d.Groups = append(d.Groups, n)
			for i := 0; i < n; i++ {
				x := []float32{float32(rng.Float64()), float32(rng.Float64()), float32(rng.Float64()), float32(rng.Float64())}
				s := 2*x[0] + x[1]*x[1] - 0.5*x[2] + 0.3*float32(rng.NormFloat64())
				label := float32(0)
				switch {
				case s > 2:
					label = 3
				case s > 1.5:
					label = 2
				case s > 1:
					label = 1
				}
				d.X = append(d.X, x...)
				d.Labels = append(d.Labels, label)
			}
		}
		return d
	}
	train, valid := mk(300), mk(100)
	p := DefaultParams()
	p.Objective, p.Rounds, p.MaxDepth, p.Eta = RankNDCG, 30, 4, 0.3
	m, rep, err := Train(context.Background(), p, train, valid)
	if err != nil {
		t.Fatal(err)
	}
	random := make([]float64, valid.Rows())
	for i := range random {
		random[i] = rng.Float64()
	}
	before := NDCG(valid.Labels, random, valid.Groups, 10)
	first := rep.History[0].Metrics[0].Value
	last := rep.History[len(rep.History)-1].Metrics[0]
	if last.Name != "ndcg@10" || last.Value < first || last.Value < before+0.2 || last.Value < 0.85 {
		t.Fatalf("NDCG@10: random %.3f, after 1 round %.3f, after %d rounds %.3f", before, first, rep.Rounds, last.Value)
	}
	pred := make([]float64, valid.Rows())
	m.Predict(valid.X, valid.Features, pred)
	if got := NDCG(valid.Labels, pred, valid.Groups, 10); math.Abs(got-last.Value) > 1e-6 {
		t.Errorf("Predict NDCG %v, training reported %v", got, last.Value)
	}
}

func TestContributionsSumToMargin(t *testing.T) {
	d := syntheticBinary(3000, 8, 1)
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	d.FeatureNames = names
	p := DefaultParams()
	p.Rounds = 20
	m, _, err := Train(context.Background(), p, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	margin := make([]float64, d.Rows())
	m.PredictMargin(d.X, d.Features, margin)
	for r := 0; r < 50; r++ {
		row := d.X[r*8 : r*8+8]
		phi, err := m.Contributions(row)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, v := range phi {
			sum += v
		}
		if math.Abs(sum-margin[r]) > 1e-4 {
			t.Fatalf("row %d: contributions sum to %v, margin %v", r, sum, margin[r])
		}
		top, err := m.TopContributions(row, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(top) != 3 || math.Abs(top[0].Value) < math.Abs(top[2].Value) || top[0].Name != names[top[0].Feature] {
			t.Fatalf("top contributions %+v", top)
		}
	}
	if _, err := m.Contributions(make([]float32, 3)); err == nil {
		t.Error("short row: no error")
	}
}

// TestPredictPaths checks the padded and the general layouts against a
// plain tree walk, with NaN, ±Inf and ±0 inputs.
func TestPredictPaths(t *testing.T) {
	for _, depth := range []int{1, 5, 12} {
		m := randomForest(t, 7, depth, 5, uint64(depth))
		if (depth > maxPadDepth) != (len(m.forest.gen) > 0) {
			t.Fatalf("depth %d: %d general trees", depth, len(m.forest.gen))
		}
		x := randomRows(203, 5, 9)
		specials := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0}
		for i := 0; i < len(x); i += 7 {
			x[i] = specials[i%len(specials)]
		}
		// Thresholds at 0 exercise -0 == +0.
		m.trees[0].cond[0] = 0
		m.forest = flatten(m.trees, 5)
		got := make([]float64, 203)
		if err := m.PredictMargin(x, 5, got); err != nil {
			t.Fatal(err)
		}
		for r := range got {
			want := float32(m.base)
			for i := range m.trees {
				want += m.trees[i].cond[m.trees[i].leaf(x[r*5:r*5+5])]
			}
			if float64(want) != got[r] {
				t.Fatalf("depth %d row %d: %v, tree walk %v", depth, r, got[r], want)
			}
		}
	}
	m := randomForest(t, 1, 2, 3, 1)
	if err := m.PredictMargin(make([]float32, 6), 2, make([]float64, 3)); err == nil {
		t.Error("wrong feature count: no error")
	}
	if err := m.PredictMargin(make([]float32, 6), 3, make([]float64, 3)); err == nil {
		t.Error("wrong output length: no error")
	}
}

func TestLoadRejectsCorruptModels(t *testing.T) {
	good := modelJSON(t, randomForest(t, 2, 2, 3, 1))
	edit := func(f func(l map[string]any, tree map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		l := m["learner"].(map[string]any)
		tr := l["gradient_booster"].(map[string]any)["model"].(map[string]any)["trees"].([]any)[0].(map[string]any)
		f(l, tr)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name, json, want string
	}{
		{"empty", "", "decode json"},
		{"not json", "model", "decode json"},
		{"truncated", string(good[:len(good)/2]), "decode json"},
		{"no learner", `{"version":[1,7,4]}`, "no learner"},
		{"wrong type", `{"learner":{"objective":5}}`, "decode json"},
		{"unknown objective", edit(func(l, _ map[string]any) { l["objective"].(map[string]any)["name"] = "multi:softmax" }), "objective"},
		{"bad base_score", edit(func(l, _ map[string]any) { l["learner_model_param"].(map[string]any)["base_score"] = "x" }), "base_score"},
		{"base_score 1 for logistic", edit(func(l, _ map[string]any) { l["learner_model_param"].(map[string]any)["base_score"] = "1" }), "base_score"},
		{"multi-class", edit(func(l, _ map[string]any) { l["learner_model_param"].(map[string]any)["num_class"] = "3" }), "num_class"},
		{"dart", edit(func(l, _ map[string]any) { l["gradient_booster"].(map[string]any)["name"] = "dart" }), "booster"},
		{"child out of range", edit(func(_, tr map[string]any) { tr["left_children"].([]any)[0] = 99 }), "out of range"},
		{"negative child", edit(func(_, tr map[string]any) { tr["right_children"].([]any)[0] = -5 }), "child"},
		{"cycle", edit(func(_, tr map[string]any) { tr["left_children"].([]any)[1] = 0 }), "out of range"},
		{"shared child", edit(func(_, tr map[string]any) { tr["right_children"].([]any)[0] = tr["left_children"].([]any)[0] }), "reached twice"},
		{"feature out of range", edit(func(_, tr map[string]any) { tr["split_indices"].([]any)[0] = 3 }), "feature index"},
		{"NaN threshold", strings.Replace(edit(func(_, tr map[string]any) { tr["split_conditions"].([]any)[0] = "NaN" }), `"NaN"`, `NaN`, 1), "decode json"},
		{"string threshold", edit(func(_, tr map[string]any) { tr["split_conditions"].([]any)[0] = "NaN" }), "decode json"},
		{"short arrays", edit(func(_, tr map[string]any) { tr["default_left"] = []any{1} }), "differ in length"},
		{"num_nodes mismatch", edit(func(_, tr map[string]any) { tr["tree_param"].(map[string]any)["num_nodes"] = "2" }), "num_nodes"},
		{"categorical", edit(func(_, tr map[string]any) { tr["split_type"].([]any)[0] = 1 }), "categorical"},
		{"no nodes", edit(func(_, tr map[string]any) {
			for _, k := range []string{"left_children", "right_children", "split_indices", "split_conditions", "default_left"} {
				tr[k] = []any{}
			}
			tr["tree_param"].(map[string]any)["num_nodes"] = "0"
		}), "no nodes"},
		{"bad default_left", edit(func(_, tr map[string]any) { tr["default_left"].([]any)[0] = 7 }), "default_left"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Load(strings.NewReader(c.json))
			if err == nil {
				t.Fatalf("loaded: %d trees", m.NumTrees())
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
	if _, err := Load(bytes.NewReader(good)); err != nil {
		t.Fatalf("good model: %v", err)
	}
	if _, err := LoadFile("/nonexistent/m.json"); err == nil || !strings.Contains(err.Error(), "load model /nonexistent/m.json") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	d := syntheticBinary(100, 3, 1)
	cases := []struct {
		name string
		p    func(*Params)
		d    *Dataset
	}{
		{"negative lambda", func(p *Params) { p.Lambda = -1 }, d},
		{"subsample above 1", func(p *Params) { p.Subsample = 1.5 }, d},
		{"unknown objective", func(p *Params) { p.Objective = "multi:softmax" }, d},
		{"ranking without groups", func(p *Params) { p.Objective = RankNDCG }, d},
		{"label 2 for logistic", nil, &Dataset{X: []float32{1, 2}, Features: 1, Labels: []float32{0, 2}}},
		{"ragged", nil, &Dataset{X: []float32{1, 2, 3}, Features: 2, Labels: []float32{0}}},
		{"groups do not sum", func(p *Params) { p.Objective = RankNDCG }, &Dataset{X: []float32{1, 2}, Features: 1, Labels: []float32{0, 1}, Groups: []int{3}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultParams()
			if c.p != nil {
				c.p(&p)
			}
			if _, _, err := Train(context.Background(), p, c.d, nil); err == nil {
				t.Fatal("no error")
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Train(ctx, DefaultParams(), d, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// FuzzLoad checks that no input makes Load panic and that whatever loads
// also scores.
func FuzzLoad(f *testing.F) {
	var b bytes.Buffer
	m := randomForest(f, 2, 3, 3, 1)
	m.Save(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"learner":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		out := make([]float64, 2)
		x := make([]float32, 2*m.NumFeatures())
		if err := m.PredictMargin(x, m.NumFeatures(), out); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Contributions(x[:m.NumFeatures()]); err != nil {
			t.Fatal(err)
		}
	})
}
