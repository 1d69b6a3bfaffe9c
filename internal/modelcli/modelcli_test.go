package modelcli

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/recohq/reco/internal/rank/gbdt"
)

// writeData writes n rows of a small problem as CSV: columns a, b, c, an
// optional qid, and label; a tenth of the cells are empty (missing).
func writeData(t *testing.T, path string, n int, seed uint64, rank bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("a,b,label,c")
	if rank {
		b.WriteString(",qid")
	}
	b.WriteByte('\n')
	for r := 0; r < n; r++ {
		a, bb, c := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		y := 0
		if a+0.5*bb*bb+0.3*rng.NormFloat64() > 0.6 {
			y = 1
		}
		cell := func(v float64) string {
			if rng.IntN(10) == 0 {
				return ""
			}
			return strconv.FormatFloat(v, 'g', 6, 64)
		}
		fmt.Fprintf(&b, "%s,%s,%d,%s", cell(a), cell(bb), y, cell(c))
		if rank {
			fmt.Fprintf(&b, ",%d", r/10)
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = Main(context.Background(), args, &o, &e)
	return o.String(), e.String(), err
}

func TestTrainPredictInspect(t *testing.T) {
	dir := t.TempDir()
	train, valid, model := filepath.Join(dir, "train.csv"), filepath.Join(dir, "valid.csv"), filepath.Join(dir, "m.json")
	writeData(t, train, 3000, 1, false)
	writeData(t, valid, 1000, 2, false)
	out, errOut, err := run("train", "--train", train, "--valid", valid, "--out", model,
		"--rounds", "30", "--max-depth", "4", "--early-stopping-rounds", "10", "--threads", "2", "--seed", "7")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rounds:", "best iteration:", "valid logloss:", "valid auc:", "time:", "model: " + model} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "[0]\tvalid-logloss:") || !strings.Contains(errOut, "valid-auc:") {
		t.Errorf("progress:\n%s", errOut)
	}

	// predict prints gbdt.Predict's scores in row order.
	out, _, err = run("predict", "--model", model, "--data", valid)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(out)
	m, err := gbdt.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := readTable(valid, false)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, tab.rows())
	if err := m.Predict(tab.x, tab.nf, want); err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(want) {
		t.Fatalf("%d scores for %d rows", len(lines), len(want))
	}
	for i, l := range lines {
		if v, _ := strconv.ParseFloat(l, 64); v != want[i] {
			t.Fatalf("row %d: printed %s, Predict %v", i, l, want[i])
		}
	}
	auc := gbdt.AUC(tab.labels, want)
	if auc < 0.8 {
		t.Errorf("validation AUC %v", auc)
	}

	// Columns are matched by name: reordering them changes nothing.
	shuffled := filepath.Join(dir, "shuffled.csv")
	reorderColumns(t, valid, shuffled, []int{3, 1, 0, 2})
	out2, _, err := run("predict", "--model", model, "--data", shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if out2 != out {
		t.Error("scores change when the columns are reordered")
	}

	out, _, err = run("inspect", model)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"objective: binary:logistic", "trees:", "max depth: 4", "features: 3", "feature names: a, b, c", "top features by gain:"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
}

func reorderColumns(t *testing.T, src, dst string, order []int) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		cells := strings.Split(line, ",")
		for i, j := range order {
			if i > 0 {
				out.WriteByte(',')
			}
			out.WriteString(cells[j])
		}
		out.WriteByte('\n')
	}
	if err := os.WriteFile(dst, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTrainRankingAndLibSVM(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "rank.csv")
	writeData(t, csv, 2000, 3, true)
	out, errOut, err := run("train", "--train", csv, "--valid", csv, "--objective", "rank:ndcg", "--rounds", "5", "--out", filepath.Join(dir, "r.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "valid-ndcg@10:") || !strings.Contains(out, "valid ndcg@10:") {
		t.Errorf("no NDCG reported:\n%s\n%s", errOut, out)
	}

	svm := filepath.Join(dir, "data.txt")
	var b strings.Builder
	rng := rand.New(rand.NewPCG(1, 2))
	for r := 0; r < 500; r++ {
		a := rng.NormFloat64()
		y := 0
		if a > 0 {
			y = 1
		}
		fmt.Fprintf(&b, "%d qid:%d 0:%g", y, r/50, a)
		if r%3 != 0 {
			fmt.Fprintf(&b, " 2:%g", rng.NormFloat64())
		}
		b.WriteByte('\n')
	}
	os.WriteFile(svm, []byte(b.String()), 0o644)
	model := filepath.Join(dir, "s.json")
	if _, _, err := run("train", "--train", svm, "--rounds", "5", "--out", model); err != nil {
		t.Fatal(err)
	}
	out, _, err = run("predict", "--model", model, "--data", svm)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(out)); n != 500 {
		t.Fatalf("%d scores", n)
	}
	m, _ := gbdt.LoadFile(model)
	if m.NumFeatures() != 3 {
		t.Errorf("LibSVM model has %d features, want 3", m.NumFeatures())
	}
	tab, err := readTable(svm, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.groups) != 10 || !math.IsNaN(float64(tab.x[1])) {
		t.Errorf("groups %v, x[1] %v", tab.groups, tab.x[1])
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	writeData(t, good, 200, 1, false)
	model := filepath.Join(dir, "m.json")
	if _, _, err := run("train", "--train", good, "--rounds", "3", "--out", model); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	nolabel := write("nolabel.csv", "a,b,c\n1,2,3\n")
	badnum := write("badnum.csv", "a,b,label,c\n1,2,0,3\n1,x7,1,3\n")
	ragged := write("ragged.csv", "a,b,label,c\n1,2,0\n")
	wrongcols := write("wrong.csv", "a,z,label,c\n1,2,0,3\n")
	corrupt := write("corrupt.json", `{"learner": {`)
	qid := write("qid.csv", "a,label,qid\n1,0,1\n2,1,2\n3,0,1\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "missing command"},
		{"unknown command", []string{"import", "x"}, `unknown command "import"`},
		{"unknown flag", []string{"train", "--train", good, "--out", model, "--depth", "3"}, "flag provided but not defined: -depth"},
		{"missing --train", []string{"train", "--out", model}, "--train is required"},
		{"missing file", []string{"train", "--train", filepath.Join(dir, "nope.csv"), "--out", model}, "nope.csv: no such file"},
		{"missing label", []string{"train", "--train", nolabel, "--out", model}, "no label column"},
		{"bad number", []string{"train", "--train", badnum, "--out", model}, `line 3 column 2 (b): bad number "x7"`},
		{"ragged row", []string{"train", "--train", ragged, "--out", model}, "line 2: 3 columns, header has 4"},
		{"bad flag value", []string{"train", "--train", good, "--out", model, "--eta", "fast"}, "invalid value"},
		{"bad param", []string{"train", "--train", good, "--out", model, "--subsample", "2"}, "subsample 2 not in (0, 1]"},
		{"ranking without qid", []string{"train", "--train", good, "--out", model, "--objective", "rank:ndcg"}, "needs a qid or group column"},
		{"query not contiguous", []string{"train", "--train", qid, "--out", model, "--objective", "rank:ndcg"}, "query 1 is not contiguous"},
		{"early stopping without valid", []string{"train", "--train", good, "--out", model, "--early-stopping-rounds", "3"}, "needs --valid"},
		{"unwritable out", []string{"train", "--train", good, "--rounds", "1", "--out", filepath.Join(dir, "no", "m.json")}, "save model"},
		{"predict missing model", []string{"predict", "--model", filepath.Join(dir, "none.json"), "--data", good}, "load model"},
		{"predict corrupt model", []string{"predict", "--model", corrupt, "--data", good}, "decode json"},
		{"predict missing column", []string{"predict", "--model", model, "--data", wrongcols}, `no column "b"`},
		{"predict bad number", []string{"predict", "--model", model, "--data", badnum}, "line 3 column 2"},
		{"inspect no file", []string{"inspect"}, "exactly one model file"},
		{"inspect corrupt", []string{"inspect", corrupt}, "load model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := run(c.args...)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not contain %q", msg, c.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is more than one line: %q", msg)
			}
		})
	}
}
