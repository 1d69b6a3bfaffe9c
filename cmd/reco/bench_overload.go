package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/recohq/reco/internal/loadgen"
)

// overloadRun is one offered load of the overload scenario.
type overloadRun struct {
	Multiplier float64        `json:"multiplier"`
	Offered    float64        `json:"offered_rps"`
	Goodput    float64        `json:"goodput_rps"` // 2xx per second
	OfCapacity float64        `json:"goodput_of_capacity"`
	ShedRate   float64        `json:"shed_rate"`  // 503 / sent
	OtherRate  float64        `json:"other_rate"` // other errors / sent
	AdmittedMS float64        `json:"admitted_p99_ms"`
	RSSMax     int64          `json:"rss_max_bytes,omitempty"` // 0: not measured
	Result     loadgen.Result `json:"result"`
}

// benchOverload offers multiples of the server's capacity in recommend
// requests, open loop, and reports what is served (goodput), what is shed
// (503), the latency of what is admitted, and the server's memory.
func benchOverload(ctx context.Context, f *benchFlags) error {
	var mults []float64
	for _, s := range strings.Split(f.multiplier, ",") {
		m, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(m > 0) {
			return fmt.Errorf("overload: --multiplier %q: want positive numbers, e.g. 2,5", f.multiplier)
		}
		mults = append(mults, m)
	}
	if f.prepare {
		fmt.Fprintf(f.stderr, "overload: preparing %d products and %d users at %s\n", f.products, f.users, f.url)
		if err := loadgen.Prepare(ctx, f.options(f.url, loadgen.ScenarioRecommend, 1)); err != nil {
			return fmt.Errorf("overload: prepare: %w", err)
		}
	}
	// Measure a server at rest: not while its stream still applies a
	// backlog (after --prepare, say).
	if err := waitNoLag(ctx, f.url, 2*time.Minute); err != nil {
		return fmt.Errorf("overload: %w", err)
	}
	capacity, how := f.capacity, "given with --capacity"
	if capacity <= 0 {
		fmt.Fprintf(f.stderr, "overload: measuring capacity at %s: %d concurrent recommend requests (closed loop) for %s\n", f.url, f.capacityWorkers, f.capacityProbe)
		var err error
		capacity, err = loadgen.Capacity(ctx, f.options(f.url, loadgen.ScenarioRecommend, 1), f.capacityWorkers, f.capacityProbe)
		if err != nil {
			return fmt.Errorf("overload: %w", err)
		}
		how = fmt.Sprintf("measured: 2xx/s of a closed loop of %d concurrent requests for %s", f.capacityWorkers, f.capacityProbe)
	}
	fmt.Fprintf(f.stderr, "overload: capacity %.0f req/s (%s)\n", capacity, how)
	var runs []overloadRun
	for i, m := range mults {
		if i > 0 {
			pause := min(f.duration, 5*time.Second)
			fmt.Fprintf(f.stderr, "overload: %s pause for the server to drain\n", pause)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
		}
		rate := math.Round(m * capacity)
		fmt.Fprintf(f.stderr, "overload: %gx capacity = %.0f req/s for %s\n", m, rate, f.duration)
		rss := watchRSS(f.pid)
		res, err := loadgen.Run(ctx, f.options(f.url, loadgen.ScenarioRecommend, rate))
		rssMax := rss()
		if err != nil {
			return fmt.Errorf("overload %gx: %w", m, err)
		}
		r := overloadRun{Multiplier: m, Offered: rate, Goodput: res.Throughput, OfCapacity: res.Throughput / capacity,
			AdmittedMS: float64(res.OKP99) / float64(time.Millisecond), RSSMax: rssMax, Result: res}
		if res.Sent > 0 {
			r.ShedRate = float64(res.ErrorsByStatus[http.StatusServiceUnavailable]) / float64(res.Sent)
			r.OtherRate = float64(res.Errors-res.ErrorsByStatus[http.StatusServiceUnavailable]) / float64(res.Sent)
		}
		runs = append(runs, r)
	}
	if f.asJSON {
		b, err := json.MarshalIndent(map[string]any{"scenario": "overload", "url": f.url, "capacity_rps": capacity,
			"capacity_method": how, "runs": runs}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(f.stdout, string(b))
		return nil
	}
	fmt.Fprintf(f.stdout, "scenario:  overload of %s\n", f.url)
	fmt.Fprintf(f.stdout, "capacity:  %.0f recommend req/s (%s)\n", capacity, how)
	fmt.Fprintf(f.stdout, "method:    %s\n\n", runs[0].Result.Method())
	tw := tabwriter.NewWriter(f.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "offered\treq/s\tgoodput ok/s\tof capacity\tshed (503)\tother errors\tlate\tadmitted p50\tadmitted p99\tall p99\tmax\tserver RSS max\tdegraded\tfallbacks (share of ok)")
	for _, r := range runs {
		rss := "-"
		if r.RSSMax > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(r.RSSMax)/(1<<20))
		}
		res := r.Result
		fbs := "-"
		if len(res.Fallbacks) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(res.Fallbacks)) {
				parts = append(parts, k+" "+share(res.Fallbacks[k], res.OK))
			}
			fbs = strings.Join(parts, ", ")
		}
		fmt.Fprintf(tw, "%gx\t%.0f\t%.0f\t%.0f%%\t%.1f%%\t%.1f%%\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Multiplier, r.Offered, r.Goodput, 100*r.OfCapacity,
			100*r.ShedRate, 100*r.OtherRate, res.Late, fmtMS(res.OKP50), fmtMS(res.OKP99), fmtMS(res.P99), fmtMS(res.Max), rss, share(res.Degraded, res.OK), fbs)
	}
	tw.Flush()
	if f.pid == 0 {
		fmt.Fprintln(f.stdout, "(server RSS not measured: give --pid for a local server)")
	}
	return nil
}

// watchRSS samples the resident memory of process pid every 100 ms until
// the returned function is called, which returns the largest sample in
// bytes (0: no pid, or no /proc).
func watchRSS(pid int) func() int64 {
	if pid <= 0 {
		return func() int64 { return 0 }
	}
	var mu sync.Mutex
	var top int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v := readRSS(pid); v > 0 {
				mu.Lock()
				top = max(top, v)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return top
	}
}

// readRSS returns VmRSS of /proc/PID/status in bytes, or 0.
func readRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

func fmtMS(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

func share(n, of int64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// waitNoLag waits until the server's stream has applied its whole log
// (every reco_stream_lag_records series is 0), or d passes.
func waitNoLag(ctx context.Context, base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		m, err := scrapeMetrics(ctx, base, []string{"reco_stream_lag_records"})
		lag := 0.0
		for _, v := range m {
			lag += v
		}
		if err == nil && lag == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server's stream still lags by %.0f records after %s (%v)", lag, d, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
