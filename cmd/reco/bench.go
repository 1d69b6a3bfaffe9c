package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/recohq/reco/internal/loadgen"
)

// benchFlags are the flags of `reco bench`; the failure-mode scenarios
// (bench_overload.go, bench_failure.go) use some of their own.
type benchFlags struct {
	url, scenario             string
	rate                      float64
	duration, warmup, timeout time.Duration
	users, products, batch    int
	prepare, asJSON           bool
	seed                      int64
	multiplier                string  // overload
	capacity                  float64 // overload
	capacityProbe             time.Duration
	capacityWorkers           int
	pid                       int
	eventsRate                float64         // redis-killed, disk-full
	tmpfsSize                 string          // disk-full
	headroom                  int64           // disk-full
	redisServer               string          // redis-killed
	set                       map[string]bool // flags given on the command line
	stdout, stderr, progress  io.Writer
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	// Progress comes from several goroutines (two loads, the failures).
	stderr = &lockedWriter{w: stderr}
	f := &benchFlags{stdout: stdout, stderr: stderr, progress: stderr}
	fs.StringVar(&f.url, "url", "http://127.0.0.1:8080", "base URL of a running reco server (not used by redis-killed and disk-full, which start their own)")
	fs.StringVar(&f.scenario, "scenario", "recommend", "recommend, events, freshness or mixed; or a failure mode: overload, redis-killed, disk-full")
	fs.Float64Var(&f.rate, "rate", 1000, "arrival rate, requests/s (for events: batches/s); redis-killed and disk-full: recommend requests/s, default 200")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured duration (failure modes: in three phases of a third each; overload: per multiplier)")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "warm-up before measuring")
	fs.IntVar(&f.users, "users", 100000, "user id space (redis-killed and disk-full: default 5000)")
	fs.IntVar(&f.products, "products", 100000, "product id space (redis-killed and disk-full: default 5000)")
	fs.IntVar(&f.batch, "batch-size", 1000, "events per batch in the events scenario (redis-killed and disk-full: default 100)")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Second, "per-request timeout")
	fs.BoolVar(&f.prepare, "prepare", false, "first load a synthetic catalog and history of --products and --users")
	fs.Int64Var(&f.seed, "seed", 1, "seed of the generated load")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fs.StringVar(&f.multiplier, "multiplier", "2", "overload: offered rate as multiples of the capacity, one run each (e.g. 2,5)")
	fs.Float64Var(&f.capacity, "capacity", 0, "overload: the server's capacity in recommend requests/s; 0 measures it first (closed loop, --capacity-probe)")
	fs.DurationVar(&f.capacityProbe, "capacity-probe", 5*time.Second, "overload: how long to measure the capacity")
	fs.IntVar(&f.capacityWorkers, "capacity-workers", 32, "overload: concurrent requests while measuring the capacity")
	fs.IntVar(&f.pid, "pid", 0, "overload: pid of the server, if local, to report its resident memory (from /proc)")
	fs.Float64Var(&f.eventsRate, "events-rate", 10, "redis-killed and disk-full: event batches/s sent alongside the recommend load")
	fs.StringVar(&f.tmpfsSize, "tmpfs-size", "64m", "disk-full: size of the tmpfs the data dir is on")
	fs.Int64Var(&f.headroom, "headroom", 256<<10, "disk-full: bytes the filler file leaves free, for ingest to fill")
	fs.StringVar(&f.redisServer, "redis-server", "redis-server", "redis-killed: the redis-server binary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	f.url = strings.TrimRight(f.url, "/")

	switch f.scenario {
	case "overload":
		return benchOverload(ctx, f)
	case "redis-killed":
		return benchRedisKilled(ctx, f)
	case "disk-full":
		return benchDiskFull(ctx, f)
	}
	o := f.options(f.url, f.scenario, f.rate)
	if f.prepare {
		fmt.Fprintf(stderr, "preparing %d products and %d users at %s\n", f.products, f.users, o.BaseURL)
		if err := loadgen.Prepare(ctx, o); err != nil {
			return fmt.Errorf("bench prepare: %w", err)
		}
	}
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if f.asJSON {
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

// options are the load generator's options for one run against base.
func (f *benchFlags) options(base, scenario string, rate float64) loadgen.Options {
	return loadgen.Options{
		BaseURL: base, Scenario: scenario, Rate: rate, Duration: f.duration, Warmup: f.warmup,
		Users: f.users, Products: f.products, BatchSize: f.batch, Timeout: f.timeout, Seed: f.seed, Progress: f.progress,
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
