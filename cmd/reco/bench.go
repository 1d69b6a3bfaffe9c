package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/recohq/reco/internal/loadgen"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of a running reco server")
	scenario := fs.String("scenario", "recommend", "recommend, events, freshness or mixed")
	rate := fs.Float64("rate", 1000, "arrival rate, requests/s (for events: batches/s)")
	duration := fs.Duration("duration", 10*time.Second, "measured duration")
	warmup := fs.Duration("warmup", 2*time.Second, "warm-up before measuring")
	users := fs.Int("users", 100000, "user id space")
	products := fs.Int("products", 100000, "product id space")
	batch := fs.Int("batch-size", 1000, "events per batch in the events scenario")
	timeout := fs.Duration("timeout", 2*time.Second, "per-request timeout")
	prepare := fs.Bool("prepare", false, "first load a synthetic catalog and history of --products and --users")
	seed := fs.Int64("seed", 1, "seed of the generated load")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o := loadgen.Options{
		BaseURL: strings.TrimRight(*url, "/"), Scenario: *scenario, Rate: *rate, Duration: *duration, Warmup: *warmup,
		Users: *users, Products: *products, BatchSize: *batch, Timeout: *timeout, Seed: *seed, Progress: stderr,
	}
	if *prepare {
		fmt.Fprintf(stderr, "preparing %d products and %d users at %s\n", *products, *users, o.BaseURL)
		if err := loadgen.Prepare(ctx, o); err != nil {
			return fmt.Errorf("bench prepare: %w", err)
		}
	}
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *asJSON {
		b, err := res.JSON()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	res.Print(stdout)
	return nil
}
