package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"

	"github.com/recohq/reco/internal/app"
	"github.com/recohq/reco/internal/config"
)

// configAliases are short flags for the most used keys.
var configAliases = map[string]string{"data": "data_dir"}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("reco "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// startApp opens the process and listens on cfg.Addr.
func startApp(cfg config.Config, logger *slog.Logger) (*app.App, net.Listener, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("data_dir: %w", err)
	}
	a, err := app.Open(cfg, app.Options{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.Close()
		return nil, nil, fmt.Errorf("listen on %s (addr): %w", cfg.Addr, err)
	}
	return a, ln, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	cfg, _, err := config.Load(fs, args, os.Getenv, configAliases)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.LogLevel, stderr)
	a, ln, err := startApp(cfg, logger)
	if err != nil {
		return err
	}
	if addr := os.Getenv("RECO_PPROF_ADDR"); addr != "" {
		// Profiling for operators, on its own (loopback) listener only.
		go func() {
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			logger.Info("pprof listening", "addr", addr, "err", http.ListenAndServe(addr, mux))
		}()
	}
	logger.Info("reco serving", "addr", "http://"+ln.Addr().String(), "data_dir", cfg.DataDir,
		"event_log", cfg.EventLog.Type, "online_store", cfg.OnlineStore.Type)
	return a.Run(ctx, ln)
}
