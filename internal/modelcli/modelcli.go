package modelcli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/recohq/reco/internal/rank/gbdt"
)

const usage = `usage: reco model <command> [flags]

commands:
  train    --train FILE [--valid FILE] --out model.json [training flags]
  predict  --model model.json --data FILE
  inspect  model.json`

// Main runs "reco model" with args, the words after "reco model". Scores
// and reports go to stdout, progress to stderr. The error, if any, is one
// line for the caller to print before exiting non-zero.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("model: missing command (train, predict or inspect)")
	}
	var err error
	switch args[0] {
	case "train":
		err = runTrain(ctx, args[1:], stdout, stderr)
	case "predict":
		err = runPredict(args[1:], stdout)
	case "inspect":
		err = runInspect(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("model: unknown command %q (want train, predict or inspect)", args[0])
	}
	if err != nil {
		// One readable line, whatever the cause.
		return errors.New(strings.Join(strings.Fields(err.Error()), " "))
	}
	return nil
}

// newFlags returns a flag set that reports errors as values, not on stderr.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return fmt.Errorf("model %s: flags: %s", fs.Name(), flagList(fs))
		}
		return fmt.Errorf("model %s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("model %s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func flagList(fs *flag.FlagSet) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
	return strings.Join(names, " ")
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train")
	trainPath := fs.String("train", "", "training data (CSV with a label column, or LibSVM)")
	validPath := fs.String("valid", "", "validation data, same format")
	out := fs.String("out", "", "where to write the model (XGBoost JSON)")
	obj := fs.String("objective", string(gbdt.BinaryLogistic), "binary:logistic, rank:ndcg or reg:squarederror")
	p := gbdt.Params{}
	fs.IntVar(&p.MaxDepth, "max-depth", 8, "maximum tree depth")
	fs.Float64Var(&p.Eta, "eta", 0.1, "learning rate")
	fs.IntVar(&p.Rounds, "rounds", 200, "boosting rounds")
	fs.Float64Var(&p.Subsample, "subsample", 0.8, "row sampling per round")
	fs.Float64Var(&p.ColsampleByTree, "colsample-bytree", 0.8, "feature sampling per tree")
	fs.Float64Var(&p.MinChildWeight, "min-child-weight", 1, "minimum hessian sum in a child")
	fs.Float64Var(&p.Lambda, "lambda", 1, "L2 regularization")
	fs.Float64Var(&p.Alpha, "alpha", 0, "L1 regularization")
	fs.Float64Var(&p.Gamma, "gamma", 0, "minimum loss reduction to split")
	fs.IntVar(&p.MaxBin, "max-bin", 256, "histogram bins per feature")
	fs.IntVar(&p.EarlyStoppingRounds, "early-stopping-rounds", 0, "stop after N rounds without validation improvement (needs --valid)")
	fs.IntVar(&p.Threads, "threads", 0, "worker threads (0: all cores)")
	fs.Uint64Var(&p.Seed, "seed", 0, "random seed")
	fs.IntVar(&p.NDCGAt, "ndcg-at", 10, "k of NDCG@k for rank:ndcg")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p.Objective = gbdt.Objective(*obj)
	switch {
	case *trainPath == "":
		return errors.New("model train: --train is required")
	case *out == "":
		return errors.New("model train: --out is required")
	case p.EarlyStoppingRounds > 0 && *validPath == "":
		return errors.New("model train: --early-stopping-rounds needs --valid")
	}
	train, err := loadDataset(*trainPath, p.Objective)
	if err != nil {
		return fmt.Errorf("model train: %w", err)
	}
	var valid *gbdt.Dataset
	if *validPath != "" {
		if valid, err = loadDataset(*validPath, p.Objective); err != nil {
			return fmt.Errorf("model train: %w", err)
		}
		if valid, err = alignValid(train, valid, *validPath); err != nil {
			return fmt.Errorf("model train: %w", err)
		}
	}
	fmt.Fprintf(stderr, "training %s on %d rows x %d features", p.Objective, train.Rows(), train.Features)
	if valid != nil {
		fmt.Fprintf(stderr, ", validating on %d rows", valid.Rows())
	}
	fmt.Fprintln(stderr)
	p.OnRound = func(r gbdt.RoundResult) {
		var b strings.Builder
		fmt.Fprintf(&b, "[%d]", r.Round)
		for _, m := range r.Metrics {
			fmt.Fprintf(&b, "\tvalid-%s:%.6f", m.Name, m.Value)
		}
		fmt.Fprintln(stderr, b.String())
	}
	start := time.Now()
	m, rep, err := gbdt.Train(ctx, p, train, valid)
	if err != nil {
		return fmt.Errorf("model %w", err)
	}
	took := time.Since(start)
	if err := m.SaveFile(*out); err != nil {
		return fmt.Errorf("model train: %w", err)
	}
	fmt.Fprintf(stdout, "rounds: %d\n", rep.Rounds)
	fmt.Fprintf(stdout, "trees: %d\n", m.NumTrees())
	if valid != nil {
		fmt.Fprintf(stdout, "best iteration: %d\n", rep.BestIteration)
		last := rep.History[rep.BestIteration].Metrics
		for _, mt := range last {
			fmt.Fprintf(stdout, "valid %s: %.6f\n", mt.Name, mt.Value)
		}
	}
	fmt.Fprintf(stdout, "time: %s\n", took.Round(time.Millisecond))
	fmt.Fprintf(stdout, "model: %s\n", *out)
	return nil
}

// loadDataset reads a file for training.
func loadDataset(path string, obj gbdt.Objective) (*gbdt.Dataset, error) {
	t, err := readTable(path, true)
	if err != nil {
		return nil, err
	}
	if t.labels == nil {
		return nil, fmt.Errorf("read %s: no label column", path)
	}
	d := &gbdt.Dataset{X: t.x, Features: t.nf, Labels: t.labels, FeatureNames: t.names}
	if obj == gbdt.RankNDCG {
		if t.groups == nil {
			return nil, fmt.Errorf("read %s: %s needs a qid or group column", path, obj)
		}
		d.Groups = t.groups
	}
	return d, nil
}

// alignValid reorders the validation columns to the training columns by
// name (CSV) or checks the width (LibSVM, padded with missing values).
func alignValid(train, valid *gbdt.Dataset, path string) (*gbdt.Dataset, error) {
	if train.FeatureNames != nil && valid.FeatureNames != nil {
		cols, err := matchColumns(train.FeatureNames, valid.FeatureNames, path)
		if err != nil {
			return nil, err
		}
		valid.X = selectColumns(valid.X, valid.Features, cols)
		valid.Features, valid.FeatureNames = train.Features, train.FeatureNames
		return valid, nil
	}
	if valid.Features > train.Features {
		return nil, fmt.Errorf("read %s: %d feature columns, training data has %d", path, valid.Features, train.Features)
	}
	if valid.Features < train.Features {
		cols := make([]int, train.Features)
		for i := range cols {
			cols[i] = i
			if i >= valid.Features {
				cols[i] = -1
			}
		}
		valid.X = selectColumns(valid.X, valid.Features, cols)
		valid.Features = train.Features
	}
	valid.FeatureNames = train.FeatureNames
	return valid, nil
}

// matchColumns finds each wanted name among have.
func matchColumns(want, have []string, path string) ([]int, error) {
	pos := make(map[string]int, len(have))
	for i, h := range have {
		pos[h] = i
	}
	cols := make([]int, len(want))
	for i, w := range want {
		j, ok := pos[w]
		if !ok {
			return nil, fmt.Errorf("read %s: no column %q, which the model needs", path, w)
		}
		cols[i] = j
	}
	return cols, nil
}

// selectColumns builds a matrix of len(cols) columns from x; a column of
// -1 is all missing.
func selectColumns(x []float32, nf int, cols []int) []float32 {
	rows := len(x) / nf
	out := make([]float32, rows*len(cols))
	nan := float32(math.NaN())
	for r := 0; r < rows; r++ {
		src := x[r*nf : (r+1)*nf]
		dst := out[r*len(cols) : (r+1)*len(cols)]
		for i, c := range cols {
			if c < 0 {
				dst[i] = nan
			} else {
				dst[i] = src[c]
			}
		}
	}
	return out
}

func runPredict(args []string, stdout io.Writer) error {
	fs := newFlags("predict")
	modelPath := fs.String("model", "", "model file (XGBoost JSON)")
	dataPath := fs.String("data", "", "rows to score (CSV or LibSVM)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *modelPath == "":
		return errors.New("model predict: --model is required")
	case *dataPath == "":
		return errors.New("model predict: --data is required")
	}
	m, err := gbdt.LoadFile(*modelPath)
	if err != nil {
		return fmt.Errorf("model predict: %w", err)
	}
	t, err := readTable(*dataPath, false)
	if err != nil {
		return fmt.Errorf("model predict: %w", err)
	}
	x, err := modelMatrix(m, t, *dataPath)
	if err != nil {
		return fmt.Errorf("model predict: %w", err)
	}
	scores := make([]float64, t.rows())
	if err := m.Predict(x, m.NumFeatures(), scores); err != nil {
		return fmt.Errorf("model predict: %w", err)
	}
	var b []byte
	for _, s := range scores {
		b = strconv.AppendFloat(b, s, 'g', -1, 64)
		b = append(b, '\n')
	}
	if _, err := stdout.Write(b); err != nil {
		return fmt.Errorf("model predict: write scores: %w", err)
	}
	return nil
}

// modelMatrix arranges t's columns as the model expects: by name when both
// have names, else by position.
func modelMatrix(m *gbdt.Model, t *table, path string) ([]float32, error) {
	nf := m.NumFeatures()
	if names := m.FeatureNames(); names != nil && t.names != nil {
		cols, err := matchColumns(names, t.names, path)
		if err != nil {
			return nil, err
		}
		return selectColumns(t.x, t.nf, cols), nil
	}
	switch {
	case t.nf == nf:
		return t.x, nil
	case t.names == nil && t.nf < nf: // LibSVM: trailing columns absent
		cols := make([]int, nf)
		for i := range cols {
			cols[i] = i
			if i >= t.nf {
				cols[i] = -1
			}
		}
		return selectColumns(t.x, t.nf, cols), nil
	}
	return nil, fmt.Errorf("read %s: %d feature columns, model wants %d", path, t.nf, nf)
}

func runInspect(args []string, stdout io.Writer) error {
	fs := newFlags("inspect")
	top := fs.Int("top", 10, "how many features to list by importance")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("model inspect: %w", err)
	}
	if fs.NArg() != 1 {
		return errors.New("model inspect: want exactly one model file")
	}
	path := fs.Arg(0)
	m, err := gbdt.LoadFile(path)
	if err != nil {
		return fmt.Errorf("model inspect: %w", err)
	}
	w := &strings.Builder{}
	fmt.Fprintf(w, "model: %s\n", path)
	fmt.Fprintf(w, "objective: %s\n", m.Objective())
	fmt.Fprintf(w, "base score: %g\n", m.BaseScore())
	fmt.Fprintf(w, "trees: %d\n", m.NumTrees())
	fmt.Fprintf(w, "max depth: %d\n", m.MaxDepth())
	fmt.Fprintf(w, "features: %d\n", m.NumFeatures())
	if names := m.FeatureNames(); names != nil {
		fmt.Fprintf(w, "feature names: %s\n", strings.Join(names, ", "))
	} else {
		fmt.Fprintf(w, "feature names: (none; columns are matched by position)\n")
	}
	if v, ok := m.Attribute("best_iteration"); ok {
		fmt.Fprintf(w, "best iteration: %s\n", v)
	}
	imp := m.Importance()
	slices.SortStableFunc(imp, func(a, b gbdt.FeatureImportance) int { return cmp.Compare(b.Gain, a.Gain) })
	fmt.Fprintf(w, "top features by gain:\n")
	fmt.Fprintf(w, "  %-24s %12s %12s %12s %8s\n", "feature", "gain", "total_gain", "cover", "splits")
	for _, fi := range imp[:min(*top, len(imp))] {
		if fi.Splits == 0 {
			break
		}
		fmt.Fprintf(w, "  %-24s %12.4f %12.2f %12.2f %8d\n", fi.Name, fi.Gain, fi.TotalGain, fi.Cover, fi.Splits)
	}
	_, err = io.WriteString(stdout, w.String())
	return err
}
