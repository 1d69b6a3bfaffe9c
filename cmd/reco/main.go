// Command reco is the real-time recommender: one binary for serving,
// ingesting, training, evaluating and benchmarking. Run `reco help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

const usage = `reco: real-time product recommendations

Usage: reco COMMAND [flags]

Commands:
  demo       run the server and a simulated shop against it (go run ./cmd/reco demo)
  serve      run the server: HTTP API, event log, stream processor, recommender
  bench      load-test a running server, open loop (reco bench --scenario recommend)
  import     load interaction files into the log (reco import --format online-retail FILE)
  eval       measure recommendation quality offline on a data set (reco eval --format taobao FILE)
  train      build the training set from the log, train the ranker, register a version (--promote)
  precompute compute every active user's top N ahead (served when the live path cannot answer)
  model      train/predict/inspect GBDT files; import, list, promote, rollback versions (reco model help)
  features   point-in-time feature history from the offline store (reco features history --entities F --features V:N,... --out F)
  compact    merge small offline store files (reco compact [--view V] [--before DATE])
  materialize backfill the log from the offline events archive (reco materialize [--start T] [--end T])
  help       show this

Every command that runs the server reads reco.yaml (--config), RECO_* variables and flags;
'reco serve -h' lists every key.
`

func main() {
	if os.Getenv("GOGC") == "" {
		// The online state is a large, long-lived heap: collecting at 4x
		// its size instead of 2x halves the GC's CPU for a bounded cost in
		// memory. GOGC overrides.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "reco: "+oneLine(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "model":
		return cmdModel(ctx, rest, stdout, stderr)
	case "train":
		return cmdTrain(ctx, rest, stdout, stderr)
	case "precompute":
		return cmdPrecompute(ctx, rest, stdout, stderr)
	case "features":
		return cmdFeatures(ctx, rest, stdout, stderr)
	case "compact":
		return cmdCompact(ctx, rest, stdout, stderr)
	case "materialize":
		return cmdMaterialize(ctx, rest, stdout, stderr)
	case "import":
		return cmdImport(ctx, rest, stdout, stderr)
	case "eval":
		return cmdEval(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// oneLine folds a (possibly joined) error into one readable line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
