package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/demo"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	duration := fs.Duration("duration", 0, "run this long, then stop (0: until Ctrl-C)")
	seed := fs.Int64("seed", 1, "seed of the simulated shop")
	products := fs.Int("products", 10000, "products in the catalog")
	categories := fs.Int("categories", 50, "categories")
	users := fs.Int("users", 5000, "simulated users")
	concurrency := fs.Int("concurrency", 16, "simulated users acting at once")
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
	if err := waitReady(ctx, a.Proc.Ready); err != nil {
		return err
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
