package main

import (
	"context"
	"errors"

	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/importer"
)

// interleave moves flags after positional arguments in front of them, so
// that `reco import FILE --data DIR` works like `reco import --data DIR
// FILE`. Every flag takes a value except the names in boolFlags.
func interleave(args []string, boolFlags ...string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") || name == "h" || name == "help" {
			continue
		}
		isBool := false
		for _, b := range boolFlags {
			isBool = isBool || b == name
		}
		if !isBool && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return append(append(flags, "--"), pos...)
}

func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", stderr)
	format := fs.String("format", "", "input format: "+strings.Join(importer.Formats, ", "))
	onError := fs.String("on-error", "skip", "a malformed row: skip (report and count it) or fail")
	mapping := fs.String("map", "", "csv format: field=Column,... (user_id, product_id, timestamp, event_type, price, quantity, category, session_id; a value const:X is a constant)")
	includeTest := fs.Bool("include-test", false, "taobao: import the split=test rows too")
	batch := fs.Int("batch", 5000, "events per append to the log")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: reco import --format FORMAT FILE... [--data DIR] [--on-error skip|fail] [--map ...] [--include-test]")
		fs.PrintDefaults()
	}
	cfg, files, err := config.Load(fs, interleave(args, "include-test"), os.Getenv, configAliases)
	if err != nil {
		return err
	}
	if *format == "" {
		return errors.New("import: --format is required (" + strings.Join(importer.Formats, ", ") + ")")
	}
	if len(files) == 0 {
		return errors.New("import: no FILE given")
	}
	o := importer.RunOptions{Options: importer.Options{Format: *format, IncludeTest: *includeTest},
		BatchSize: *batch, OnError: *onError}
	if *format == "csv" {
		if o.Map, err = importer.ParseMap(*mapping); err != nil {
			return err
		}
	} else if *mapping != "" {
		return errors.New("import: --map is for --format csv")
	}
	if o.OnError != "skip" && o.OnError != "fail" {
		return fmt.Errorf("import: --on-error %q: want skip or fail", o.OnError)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	a, err := openEmbedded("import", cfg, stderr)
	if err != nil {
		return err
	}
	// The stream processor applies what is imported, exactly as it applies
	// live traffic, and writes the final checkpoint when stopped.
	procCtx, stopProc := context.WithCancel(context.Background())
	procDone := make(chan error, 1)
	go func() { procDone <- a.Proc.Run(procCtx) }()
	shutdown := func() error {
		stopProc()
		perr := <-procDone
		if cerr := a.Close(); cerr != nil && perr == nil {
			perr = fmt.Errorf("close log: %w", cerr)
		}
		return perr
	}

	o.Ledger = filepath.Join(cfg.DataDir, "imports.json")
	o.Committed = func(prefix string) (map[int]bool, error) {
		lines := map[int]bool{}
		err := a.ScanLog(func(r *event.Record) error {
			if r.Kind == event.KindEvent {
				if n, ok := importer.LineOfKey(r.Event.SourceKey, prefix); ok {
					lines[n] = true
				}
			}
			return nil
		})
		return lines, err
	}
	malformed := 0
	o.Malformed = func(file string, line int, err error) {
		malformed++
		if malformed <= 20 {
			fmt.Fprintf(stderr, "%s:%d: skipped malformed row: %s\n", file, line, oneLine(err))
		} else if malformed == 21 {
			fmt.Fprintln(stderr, "(further malformed rows are counted, not listed)")
		}
	}
	o.Progress = func(s importer.Stats) {
		rate := float64(s.Rows) / max(s.Elapsed.Seconds(), 1e-9)
		fmt.Fprintf(stderr, "%s: %d rows read, %d accepted, %d rejected, %.0f rows/s\n",
			filepath.Base(s.File), s.Rows, s.Accepted, s.RejectedTotal(), rate)
	}
	start := time.Now()
	stats, runErr := importer.Run(ctx, a, files, o)
	var waitErr error
	if runErr == nil {
		fmt.Fprintln(stderr, "applying the imported events to the online state...")
		waitErr = a.WaitApplied(ctx)
	}
	stopErr := shutdown()
	for _, s := range stats {
		printImportStats(stdout, s)
	}
	if runErr != nil {
		return fmt.Errorf("import: %w", runErr)
	}
	if waitErr != nil {
		return fmt.Errorf("import: wait for the stream processor: %w", waitErr)
	}
	if stopErr != nil {
		return fmt.Errorf("import: %w", stopErr)
	}
	fmt.Fprintf(stdout, "done in %s; state checkpointed in %s\n", time.Since(start).Round(time.Millisecond), cfg.DataDir)
	return nil
}

func printImportStats(w io.Writer, s importer.Stats) {
	if s.Already {
		fmt.Fprintf(w, "%s: already imported (sha256 %s…): nothing to do\n", s.File, s.Hash[:16])
		return
	}
	how := "imported"
	if s.Resumed {
		how = fmt.Sprintf("resumed an interrupted import (%d rows were already in the log)", s.Skipped)
	}
	fmt.Fprintf(w, "%s: %s\n", s.File, how)
	fmt.Fprintf(w, "  events read   %d\n", s.Rows)
	fmt.Fprintf(w, "  accepted      %d\n", s.Accepted)
	fmt.Fprintf(w, "  rejected      %d\n", s.RejectedTotal())
	for _, r := range s.SortedReasons() {
		fmt.Fprintf(w, "    rejected: %-16s %d\n", r, s.Rejected[r])
	}
	if s.Malformed > 0 {
		fmt.Fprintf(w, "    malformed           %d\n", s.Malformed)
	}
	fmt.Fprintf(w, "  products      %d\n", s.Products)
	rate := float64(s.Rows) / max(s.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "  time          %s (%.0f rows/s)\n", s.Elapsed.Round(time.Millisecond), rate)
}
