package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"

	"github.com/recohq/reco/internal/config"
)

// testRedis returns the test Redis's address, or skips (fails when
// RECO_TEST_REDIS=1 demands one).
func testRedis(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("RECO_TEST_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("RECO_TEST_REDIS") == "1" {
			t.Fatal("RECO_TEST_REDIS=1 but RECO_TEST_REDIS_ADDR is unset")
		}
		t.Skip("no Redis (RECO_TEST_REDIS_ADDR)")
	}
	return addr
}

// openApp opens cfg quietly.
func openApp(t *testing.T, cfg config.Config) *App {
	t.Helper()
	a, err := Open(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runApp runs a on a loopback port; stop ends it and returns Run's error.
func runApp(t *testing.T, a *App) (stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	return func() error { cancel(); return <-done }
}
