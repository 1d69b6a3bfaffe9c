package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/demo"
	"github.com/recohq/reco/internal/experiment"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	duration := fs.Duration("duration", 0, "run this long, then stop (0: until Ctrl-C)")
	seed := fs.Int64("seed", 1, "seed of the simulated shop")
	products := fs.Int("products", 10000, "products in the catalog")
	categories := fs.Int("categories", 50, "categories")
	users := fs.Int("users", 5000, "simulated users")
	concurrency := fs.Int("concurrency", 16, "simulated users acting at once")
	noExperiment := fs.Bool("no-experiment", false, "do not run the default experiment (personalised vs popular)")
	cfg, _, err := config.Load(fs, args, os.Getenv, configAliases)
	if err != nil {
		return err
	}
	logger := newLogger("warn", stderr)
	a, ln, err := startApp(cfg, logger)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	srvCtx, stopSrv := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(srvCtx, ln) }()
	defer func() {
		stopSrv()
		<-done
	}()

	fmt.Fprintf(stdout, "reco demo: server on %s, data in %s\n", base, cfg.DataDir)
	fmt.Fprintf(stdout, "  while it runs, try: curl -s %s/v1/products/p00001/features ; curl -s %s/metrics | grep reco_\n", base, base)
	if err := waitReady(ctx, a.Ready); err != nil {
		return err
	}
	expID := ""
	if !*noExperiment {
		if expID, err = startDemoExperiment(base); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  experiment %q runs: personalised ranking vs popular items, 50/50 (GET %s/v1/experiments/%s/results)\n", expID, base, expID)
	}
	runCtx := ctx
	if *duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	rep, err := demo.Run(runCtx, demo.Options{
		BaseURL: base, Seed: *seed, Products: *products, Categories: *categories, Users: *users,
		Concurrency: *concurrency, Progress: stdout,
	})
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintln(stdout)
	rep.Print(stdout, base)
	if expID != "" {
		wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := a.WaitApplied(wctx)
		cancel()
		if err == nil {
			printExperiment(stdout, base, expID)
		}
	}
	fmt.Fprintf(stdout, "\nThe server stops with the demo; to explore the same state afterwards run:\n  go run ./cmd/reco serve --data %s --addr %s\n", cfg.DataDir, cfg.Addr)
	return nil
}

func waitReady(ctx context.Context, ready func() bool) error {
	for !ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// demoExperiment is the experiment the demo runs by default.
const demoExperiment = "demo-personalization"

// startDemoExperiment creates (or reuses) the demo's A/B test through the
// admin API: popular items (control) against personalised ranking.
func startDemoExperiment(base string) (string, error) {
	body := `{"id": "` + demoExperiment + `", "status": "running", "variants": [
	  {"name": "popular", "weight": 1, "strategy": {"popular_only": true}},
	  {"name": "personalized", "weight": 1, "strategy": {}}]}`
	resp, err := http.Post(base+"/v1/experiments", "application/json", strings.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("create the demo experiment: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusConflict: // created, or there from an earlier demo on this data dir
		return demoExperiment, nil
	}
	return "", fmt.Errorf("create the demo experiment: %s: %s", resp.Status, b)
}

func printExperiment(w io.Writer, base, id string) {
	resp, err := http.Get(base + "/v1/experiments/" + id + "/results")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var res experiment.ResultsJSON
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&res) != nil {
		return
	}
	fmt.Fprintf(w, "\nExperiment %s (control: %s), as the server counted it:\n", res.Experiment, res.Control)
	for _, v := range res.Variants {
		fmt.Fprintf(w, "  %-14s %6d users %7d lists  CTR %5.2f%%  add-to-cart %5.2f%%  conversion %5.2f%%  revenue/user %.2f\n",
			v.Name, v.Users, v.Impressions, 100*float64(v.CTR), 100*float64(v.AddToCartRate), 100*float64(v.ConversionRate), float64(v.RevenuePerUser))
	}
	for _, c := range res.Comparisons {
		verdict := "not significant"
		if c.Significant {
			verdict = "significant"
		}
		fmt.Fprintf(w, "  %-14s %-17s lift %+7.1f%% (%.0f%% CI %+.1f%% .. %+.1f%%), p = %.2g, always-valid p = %.2g: %s\n",
			c.Variant, c.Metric, 100*float64(c.Lift), 100*res.Confidence, 100*float64(c.CILow), 100*float64(c.CIHigh),
			float64(c.PValue), float64(c.SequentialPValue), verdict)
	}
	fmt.Fprintf(w, "  sample ratio mismatch check: p = %.2g\n", float64(res.SRMPValue))
}
