package gbdt

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeCSV writes d in xgbtool.py's layout.
func writeCSV(t testing.TB, path string, d *Dataset) {
	t.Helper()
	var b strings.Builder
	for f := 0; f < d.Features; f++ {
		fmt.Fprintf(&b, "f%d,", f)
	}
	b.WriteString("label")
	if d.Groups != nil {
		b.WriteString(",qid")
	}
	b.WriteByte('\n')
	q, left := 0, 0
	if d.Groups != nil {
		left = d.Groups[0]
	}
	for r := 0; r < d.Rows(); r++ {
		for _, v := range d.X[r*d.Features : (r+1)*d.Features] {
			if v != v {
				b.WriteString("nan,")
			} else {
				b.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
				b.WriteByte(',')
			}
		}
		b.WriteString(strconv.FormatFloat(float64(d.Labels[r]), 'g', -1, 32))
		if d.Groups != nil {
			if left == 0 {
				q++
				left = d.Groups[q]
			}
			left--
			fmt.Fprintf(&b, ",%d", q)
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestXGBoostModelScoresIdentically trains with real XGBoost on data with
// missing values and checks that reco's scores match XGBoost's, for
// binary:logistic and rank:ndcg, and that Contributions matches
// pred_contribs.
func TestXGBoostModelScoresIdentically(t *testing.T) {
	needXGBoost(t)
	dir := t.TempDir()
	cases := []struct {
		name   string
		gen    []string
		params string
		rounds string
	}{
		{"binary", nil, `{"objective":"binary:logistic","tree_method":"hist","max_depth":7,"eta":0.3,"nthread":2}`, "60"},
		{"rank", []string{"--rank"}, `{"objective":"rank:ndcg","tree_method":"hist","max_depth":6,"eta":0.3,"nthread":2}`, "50"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			train, test := filepath.Join(dir, c.name+"-train.csv"), filepath.Join(dir, c.name+"-test.csv")
			model, preds := filepath.Join(dir, c.name+".json"), filepath.Join(dir, c.name+"-pred.txt")
			xgbTool(t, append([]string{"gen", "--rows", "20000", "--valid-rows", "10000", "--missing", "0.15",
				"--out", train, "--valid-out", test}, c.gen...)...)
			xgbTool(t, "train", "--train", train, "--params", c.params, "--rounds", c.rounds,
				"--model-out", model, "--pred-data", test, "--pred-out", preds)
			m, err := LoadFile(model)
			if err != nil {
				t.Fatal(err)
			}
			if m.NumTrees() < 50 || m.MaxDepth() < 6 {
				t.Fatalf("model has %d trees of depth %d, want >= 50 of >= 6", m.NumTrees(), m.MaxDepth())
			}
			d := readCSV(t, test)
			if d.Rows() != 10000 {
				t.Fatalf("%d test rows", d.Rows())
			}
			got := make([]float64, d.Rows())
			if err := m.PredictMargin(d.X, d.Features, got); err != nil {
				t.Fatal(err)
			}
			want := readFloats(t, preds)
			if diff, at := maxAbsDiff(got, want); diff > 1e-5 {
				t.Fatalf("max |reco - xgboost| = %g at row %d (%v vs %v)", diff, at, got[at], want[at])
			}
			// TreeSHAP on the first 200 rows.
			sub := &Dataset{X: d.X[:200*d.Features], Features: d.Features, Labels: d.Labels[:200]}
			subCSV, contribs := filepath.Join(dir, c.name+"-sub.csv"), filepath.Join(dir, c.name+"-contribs.txt")
			writeCSV(t, subCSV, sub)
			xgbTool(t, "predict", "--model", model, "--data", subCSV, "--out", contribs, "--contribs")
			wantC := readFloats(t, contribs)
			var gotC []float64
			for r := 0; r < 200; r++ {
				phi, err := m.Contributions(d.X[r*d.Features : (r+1)*d.Features])
				if err != nil {
					t.Fatal(err)
				}
				gotC = append(gotC, phi...)
			}
			if len(gotC) != len(wantC) {
				t.Fatalf("%d contributions, xgboost gave %d", len(gotC), len(wantC))
			}
			if diff, at := maxAbsDiff(gotC, wantC); diff > 1e-4 {
				t.Fatalf("max |contribution diff| = %g at %d (%v vs %v)", diff, at, gotC[at], wantC[at])
			}
		})
	}
}

// TestRecoModelLoadsInXGBoost saves a reco-trained model and checks that
// XGBoost loads it and predicts what reco predicts.
func TestRecoModelLoadsInXGBoost(t *testing.T) {
	needXGBoost(t)
	dir := t.TempDir()
	for _, obj := range []Objective{BinaryLogistic, RankNDCG, RegSquaredError} {
		t.Run(string(obj), func(t *testing.T) {
			d := syntheticBinary(8000, 12, 7)
			if obj == RankNDCG {
				d.Groups = make([]int, 400)
				for i := range d.Groups {
					d.Groups[i] = 20
				}
			}
			d.FeatureNames = make([]string, d.Features)
			for f := range d.FeatureNames {
				d.FeatureNames[f] = fmt.Sprintf("f%d", f)
			}
			p := DefaultParams()
			p.Objective, p.Rounds, p.MaxDepth, p.Subsample, p.ColsampleByTree, p.Seed = obj, 40, 7, 0.8, 0.8, 3
			m, _, err := Train(context.Background(), p, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "reco.json")
			if err := m.SaveFile(path); err != nil {
				t.Fatal(err)
			}
			csv := filepath.Join(dir, "rows.csv")
			writeCSV(t, csv, &Dataset{X: d.X, Features: d.Features, Labels: d.Labels})
			for _, margin := range []bool{true, false} {
				args := []string{"predict", "--model", path, "--data", csv, "--out", filepath.Join(dir, "p.txt")}
				if margin {
					args = append(args, "--margin")
				}
				xgbTool(t, args...)
				want := readFloats(t, filepath.Join(dir, "p.txt"))
				got := make([]float64, d.Rows())
				pred := m.Predict
				if margin {
					pred = m.PredictMargin
				}
				if err := pred(d.X, d.Features, got); err != nil {
					t.Fatal(err)
				}
				if diff, at := maxAbsDiff(got, want); diff > 1e-5 {
					t.Fatalf("margin=%v: max |reco - xgboost| = %g at row %d (%v vs %v)", margin, diff, at, got[at], want[at])
				}
			}
			// And reco reads back what it wrote.
			m2, err := LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			a, b := make([]float64, d.Rows()), make([]float64, d.Rows())
			m.PredictMargin(d.X, d.Features, a)
			m2.PredictMargin(d.X, d.Features, b)
			if diff, _ := maxAbsDiff(a, b); diff != 0 {
				t.Fatalf("reloaded model differs by %g", diff)
			}
		})
	}
}

// TestQualityMatchesXGBoost trains reco and XGBoost hist with the same
// parameters on the same data and compares validation AUC.
func TestQualityMatchesXGBoost(t *testing.T) {
	needXGBoost(t)
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	train, valid := filepath.Join(dir, "train.csv"), filepath.Join(dir, "valid.csv")
	xgbTool(t, "gen", "--rows", "100000", "--valid-rows", "20000", "--missing", "0.1", "--out", train, "--valid-out", valid)
	res := xgbTool(t, "train", "--train", train, "--valid", valid, "--rounds", "60", "--model-out", filepath.Join(dir, "x.json"),
		"--params", `{"objective":"binary:logistic","tree_method":"hist","max_depth":6,"eta":0.15,"max_bin":256,"lambda":1,"min_child_weight":1,"nthread":2}`)
	xgbAUC := res["valid_auc"].(float64)
	tr, va := readCSV(t, train), readCSV(t, valid)
	p := DefaultParams()
	p.Rounds, p.MaxDepth, p.Eta, p.Threads = 60, 6, 0.15, 2
	m, _, err := Train(context.Background(), p, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	pred := make([]float64, va.Rows())
	m.Predict(va.X, va.Features, pred)
	auc := AUC(va.Labels, pred)
	t.Logf("validation AUC: reco %.5f, xgboost %.5f", auc, xgbAUC)
	if math.Abs(auc-xgbAUC) > 0.002 {
		t.Fatalf("reco AUC %.5f vs xgboost %.5f: differ by more than 0.002", auc, xgbAUC)
	}
}
