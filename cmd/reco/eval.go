package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/recohq/reco/internal/eval"
	"github.com/recohq/reco/internal/importer"
)

// defaultStrategies are the rows of `reco eval`, in order.
var defaultStrategies = []string{"popular", "popular_recent", "category_popular", "covisit", "history", "ease", "ease_pop", "full_rules", "full"}

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reco eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "", "data set format: online-retail or taobao")
	protocol := fs.String("protocol", "", "temporal (online-retail) or holdout (taobao); default by format")
	testFrom := fs.String("test-from", "2011-11-09", "temporal: the test window's start (train before it; test through 2011-12-09)")
	splitCol := fs.String("split-column", "split", "holdout: the column that marks held-out rows (the taobao file's 'split')")
	variant := fs.String("variant", "all", "temporal: all (repeat purchases count) or novel (training purchases masked)")
	k := fs.Int("k", 10, "cut-off of HitRate, NDCG and MRR (Recall is @20)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	strategies := fs.String("strategies", strings.Join(defaultStrategies, ","), "comma-separated rows to compute")
	validation := fs.Bool("validation", false, "score on the validation split carved from training instead of the test split (for tuning)")
	var p eval.Params
	fs.Float64Var(&p.EASELambda, "ease-lambda", 0, "ease, ease_pop: EASE L2 regularisation (0: tuned default per data set and variant)")
	fs.Float64Var(&p.SimLambda, "similar-lambda", 0, "full: the similar-items table's EASE L2 regularisation (0: tuned default; taobao: --ease-lambda)")
	fs.IntVar(&p.EASEItems, "ease-items", 0, "EASE models the N most interacted items (0: 6000)")
	fs.DurationVar(&p.PopWindow, "pop-window", 0, "popular_recent / ease_pop window (0: tuned default per variant)")
	fs.Float64Var(&p.EASEPop, "ease-pop", 0, "ease_pop: weight of recent popularity (0: tuned default)")
	fs.Float64Var(&p.ConvPrior, "conv-prior", 0, "history: pseudo-views smoothing conversion rates (0: 20)")
	fs.Float64Var(&p.CartBoost, "cart-boost", 0, "history: score bonus factor of carted items (0: 1)")
	fs.IntVar(&p.Neighbors, "similar-neighbors", 0, "full: neighbours per item in the EASE similar-items table (0: 50)")
	fs.IntVar(&p.Queries, "queries", 0, "full: GBDT training queries (0: 15000)")
	fs.IntVar(&p.Negatives, "negatives", 0, "full: negatives kept per training query (0: 100)")
	fs.DurationVar(&p.Snapshot, "snapshot", 0, "full: build the GBDT's training queries at snapshots this far apart, labelled by the next --horizon (0: at baskets)")
	fs.DurationVar(&p.Horizon, "horizon", 0, "full: label window of a snapshot training query (0: --snapshot)")
	fs.IntVar(&p.MaxPerCat, "max-per-category", 0, "full: rerank's cap of items per category (0: serving's default 3; -1: none)")
	fs.DurationVar(&p.TrainSpan, "train-span", 0, "full (online-retail): GBDT training queries only this far before the split, their similar-items tables built as of their time (0: tuned default 90 days; -1s: the whole log, one table from every training event)")
	fs.DurationVar(&p.SimEvery, "similar-every", 0, "full: with --train-span, rebuild the training queries' similar-items table this often (0: tuned default 30 days)")
	fs.Uint64Var(&p.Seed, "seed", 0, "full: vary the GBDT's training sample and seed (variance checks)")
	fs.IntVar(&p.RecentItems, "recent-items", 0, "full: recent events kept per user (feature.Options.RecentItems; 0: serving's default)")
	fs.IntVar(&p.GBDTRounds, "gbdt-rounds", 0, "full: GBDT boosting rounds, early-stopped (0: tuned default, online-retail 500, taobao 150)")
	fs.IntVar(&p.GBDTDepth, "gbdt-depth", 0, "full: GBDT tree depth (0: 6)")
	fs.Float64Var(&p.GBDTEta, "gbdt-eta", 0, "full: GBDT learning rate (0: tuned default, online-retail 0.03, taobao 0.1)")
	fs.Float64Var(&p.GBDTMinHess, "gbdt-min-child", 0, "full: GBDT min_child_weight (0: 1)")
	fs.StringVar(&p.Objective, "objective", "", "full: GBDT objective, binary:logistic or rank:ndcg (default binary:logistic)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: reco eval --format online-retail|taobao FILE [--protocol temporal|holdout] [--test-from T | --split-column split] [--variant all|novel] [--k 10] [--json] [--strategies ...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(interleave(args, "json", "validation")); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("eval: give exactly one FILE")
	}
	file := fs.Arg(0)
	switch *format {
	case "online-retail":
		if *protocol == "" {
			*protocol = "temporal"
		}
	case "taobao":
		if *protocol == "" {
			*protocol = "holdout"
		}
	default:
		return fmt.Errorf("eval: --format %q: want online-retail or taobao", *format)
	}
	if (*format == "online-retail") != (*protocol == "temporal") {
		return fmt.Errorf("eval: protocol %q does not apply to %s (online-retail: temporal, taobao: holdout)", *protocol, *format)
	}
	if *protocol == "holdout" && *splitCol != "split" {
		return fmt.Errorf("eval: --split-column %q: the taobao file marks held-out rows in 'split'", *splitCol)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	start := time.Now()
	var ds *eval.Dataset
	var err error
	if *format == "online-retail" {
		from, perr := importer.ParseTime(*testFrom)
		if perr != nil {
			if t, e2 := time.Parse("2006-01-02", *testFrom); e2 == nil {
				from, perr = t.UnixMilli(), nil
			}
		}
		if perr != nil {
			return fmt.Errorf("eval: --test-from: %w", perr)
		}
		ds, err = eval.LoadRetail(ctx, file, time.UnixMilli(from).UTC(), eval.RetailTestTo, *variant)
		eval.RetailDefaults(&p, *variant)
	} else {
		ds, err = eval.LoadTaobao(ctx, file)
		eval.TaobaoDefaults(&p)
	}
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if *validation {
		if ds, err = ds.Validation(); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
	}
	universe := 0
	for _, u := range ds.Universe {
		if u {
			universe++
		}
	}
	split := "test"
	if *validation {
		split = "validation"
	}
	logf("%s (%s, %s split): %d training events, %d users evaluated, %d items ranked; loaded in %s",
		ds.Name, *protocol+variantSuffix(ds), split, len(ds.Train), len(ds.Eval), universe, time.Since(start).Round(time.Millisecond))
	var results []eval.Result
	for _, name := range strings.Split(*strategies, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		s, err := eval.NewStrategy(name, p, ds, logf)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		if s == nil {
			continue // not meaningful on this data set
		}
		logf("%s ...", name)
		r, err := eval.Evaluate(ctx, ds, s, eval.EvalOptions{K: *k, Progress: func(done, total int) {
			if done%5000 == 0 {
				logf("  %s: %d/%d users", name, done, total)
			}
		}})
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		logf("  %s: HR@%d %.4f NDCG@%d %.4f (fit %s)", name, *k, r.HitRate, *k, r.NDCG, r.Fit.Round(time.Millisecond))
		results = append(results, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"strategies": results})
	}
	fmt.Fprintf(stdout, "%s, %s protocol%s, %s split, %d users, %d items ranked\n\n", ds.Name, *protocol, variantSuffix(ds), split, len(ds.Eval), universe)
	fmt.Fprintf(stdout, "%-18s %9s %9s %9s %9s %9s %6s %12s %10s\n", "strategy", fmt.Sprintf("HR@%d", *k), fmt.Sprintf("NDCG@%d", *k), "Recall@20", fmt.Sprintf("MRR@%d", *k), "coverage", "users", "time/user", "fit")
	for _, r := range results {
		fmt.Fprintf(stdout, "%-18s %9.4f %9.4f %9.4f %9.4f %9.4f %6d %12s %10s\n", r.Name, r.HitRate, r.NDCG, r.Recall, r.MRR, r.Coverage, r.Users,
			r.PerUser.Round(time.Microsecond), r.Fit.Round(time.Millisecond))
	}
	return nil
}

func variantSuffix(ds *eval.Dataset) string {
	if ds.Variant == "" {
		return ""
	}
	return " (" + ds.Variant + ")"
}
