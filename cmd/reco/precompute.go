package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/recohq/reco/internal/config"
)

// cmdPrecompute is the case study's batch inference: every active user's
// top N, computed ahead and served when the live path cannot be.
func cmdPrecompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("precompute", stderr)
	n := fs.Int("n", 20, "recommendations per user")
	par := fs.Int("parallelism", 2, "users computed at once")
	cfg, _, err := config.Load(fs, args, os.Getenv, configAliases)
	if err != nil {
		return err
	}
	if *n < 1 || *n > cfg.Recommend.MaxResults {
		return fmt.Errorf("precompute: --n %d is not between 1 and %d", *n, cfg.Recommend.MaxResults)
	}
	a, err := openEmbedded("precompute", cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	// Bring the state up to date with the log first.
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Proc.Run(pctx) }()
	for !a.Proc.Ready() {
		select {
		case <-ctx.Done():
			stop()
			<-done
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	a.Store.RefreshIndex()
	last := time.Now()
	st, err := a.Precompute(ctx, *n, *par, func(d, total int) {
		if time.Since(last) > time.Second || d == total {
			last = time.Now()
			fmt.Fprintf(stderr, "precompute: %d/%d users\n", d, total)
		}
	})
	stop()
	<-done
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "precomputed the top %d for %d active users in %s (%d failures); served when the live path cannot answer\n",
		*n, st.Users, st.Took.Round(time.Millisecond), st.Failures)
	return nil
}
