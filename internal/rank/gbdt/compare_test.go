package gbdt

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestCompareXGBoost measures, in one run, reco against XGBoost 1.7 on this
// machine: training time (hist, same parameters and threads) and
// validation AUC on 200,000 x 20 sklearn make_classification rows, and
// scoring time of 1,000 rows with 200 trees of depth 8 against
// inplace_predict with nthread=1. It only reports; it asserts nothing about
// time. Run it with
//
//	RECO_BENCH_XGBOOST=1 go test -run CompareXGBoost -v ./internal/rank/gbdt/
func TestCompareXGBoost(t *testing.T) {
	if os.Getenv("RECO_BENCH_XGBOOST") == "" {
		t.Skip("set RECO_BENCH_XGBOOST=1 to compare with XGBoost")
	}
	needXGBoost(t)
	dir := t.TempDir()
	train, valid := filepath.Join(dir, "train.csv"), filepath.Join(dir, "valid.csv")
	xgbTool(t, "gen", "--rows", "200000", "--valid-rows", "40000", "--missing", "0.1", "--out", train, "--valid-out", valid)
	tr, va := readCSV(t, train), readCSV(t, valid)
	const rounds, depth, eta, threads = 100, 6, 0.3, 2
	params := `{"objective":"binary:logistic","tree_method":"hist","grow_policy":"depthwise","max_depth":` + strconv.Itoa(depth) +
		`,"eta":` + strconv.FormatFloat(eta, 'g', -1, 64) + `,"max_bin":256,"lambda":1,"alpha":0,"gamma":0,"min_child_weight":1,"subsample":1,"colsample_bytree":1,"nthread":` + strconv.Itoa(threads) + `}`
	p := DefaultParams()
	p.Rounds, p.MaxDepth, p.Eta, p.Threads = rounds, depth, eta, threads

	var xgbBest, recoBest time.Duration
	var xgbAUC, recoAUC float64
	for rep := 0; rep < 2; rep++ { // interleaved, best of two, to soften a noisy machine
		res := xgbTool(t, "train", "--train", train, "--valid", valid, "--rounds", strconv.Itoa(rounds),
			"--model-out", filepath.Join(dir, "x.json"), "--params", params)
		if d := time.Duration(res["train_seconds"].(float64) * float64(time.Second)); xgbBest == 0 || d < xgbBest {
			xgbBest = d
		}
		xgbAUC = res["valid_auc"].(float64)
		start := time.Now()
		m, _, err := Train(context.Background(), p, tr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); recoBest == 0 || d < recoBest {
			recoBest = d
		}
		pred := make([]float64, va.Rows())
		m.Predict(va.X, va.Features, pred)
		recoAUC = AUC(va.Labels, pred)
	}
	t.Logf("training 200000x20, %d rounds, depth %d, eta %g, %d threads:", rounds, depth, eta, threads)
	t.Logf("  xgboost hist %v, reco %v, ratio reco/xgboost %.2f", xgbBest.Round(time.Millisecond), recoBest.Round(time.Millisecond), recoBest.Seconds()/xgbBest.Seconds())
	t.Logf("  validation AUC: xgboost %.5f, reco %.5f, diff %+.5f", xgbAUC, recoAUC, recoAUC-xgbAUC)

	// Scoring: the same model file and rows on both sides.
	m := randomForest(t, 200, 8, 20, 1)
	x := randomRows(1000, 20, 3)
	modelPath, rowsPath := filepath.Join(dir, "forest.json"), filepath.Join(dir, "rows.csv")
	if err := m.SaveFile(modelPath); err != nil {
		t.Fatal(err)
	}
	writeCSV(t, rowsPath, &Dataset{X: x, Features: 20, Labels: make([]float32, 1000)})
	res := xgbTool(t, "bench-predict", "--model", modelPath, "--data", rowsPath, "--reps", "200")
	xgbScore := time.Duration(res["best_seconds"].(float64) * float64(time.Second))
	out := make([]float64, 1000)
	var recoScore time.Duration
	for i := 0; i < 200; i++ {
		start := time.Now()
		m.PredictMargin(x, 20, out)
		if d := time.Since(start); recoScore == 0 || d < recoScore {
			recoScore = d
		}
	}
	t.Logf("scoring 1000 rows, 200 trees of depth 8, one thread (best of 200):")
	t.Logf("  xgboost inplace_predict %v, reco %v, ratio reco/xgboost %.3f", xgbScore.Round(time.Microsecond), recoScore.Round(time.Microsecond), recoScore.Seconds()/xgbScore.Seconds())
}
