package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/recohq/reco/internal/app"
	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/loadgen"
)

// The failure-mode scenarios start what they need themselves: a reco
// process in this one (internal/app, as `reco serve` runs it) with a
// temporary data dir, and for redis-killed a redis-server. They seed it
// with synthetic history, then run two open-loop loads side by side,
// recommend requests and event batches, over three phases of a third of
// --duration each: before the failure, during it, after it is repaired.
// At the end they compare the events acknowledged (202) with what the
// stream applied, and what the online store serves.

// failureReport is the outcome of a failure-mode scenario.
type failureReport struct {
	Scenario  string         `json:"scenario"`
	Method    string         `json:"method"`
	Failure   string         `json:"failure"`
	Recommend loadgen.Result `json:"recommend"`
	Ingest    loadgen.Result `json:"ingest"`
	Events    eventCheck     `json:"events"`
	Notes     []string       `json:"notes,omitempty"`
	// Metrics are the server's own counters at the end (whole process
	// life: seeding and warmup included) of fallbacks, shed requests,
	// refused events and dropped impressions.
	Metrics map[string]float64 `json:"server_metrics"`
}

// reportMetrics are the counters a failure report quotes.
var reportMetrics = []string{"reco_recommend_fallbacks_total", "reco_admission_shed_total", "reco_events_rejected_total", "reco_impressions_dropped_total"}

// scrapeMetrics reads the series of the named metrics from base/metrics.
func scrapeMetrics(ctx context.Context, base string, names []string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, n := range names {
			if !strings.HasPrefix(line, n) {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			var v float64
			if _, err := fmt.Sscan(line[i+1:], &v); err == nil && i > 0 {
				out[line[:i]] = v
			}
		}
	}
	return out, sc.Err()
}

// eventCheck compares acknowledged events with applied ones.
type eventCheck struct {
	Acknowledged int64 `json:"acknowledged"` // events in 202 answers during the run
	Applied      int64 `json:"applied"`      // growth of the users' event counts in the stream's state
	Served       int64 `json:"served"`       // the same, read through GET /v1/users/{id}/features
	Lost         int64 `json:"lost"`         // acknowledged - applied, if positive
}

func (e eventCheck) ok() bool { return e.Lost == 0 && e.Served == e.Applied }

// failureDefaults sets the sizes of an in-process scenario where the
// command line did not.
func (f *benchFlags) failureDefaults() {
	if !f.set["users"] {
		f.users = 5000
	}
	if !f.set["products"] {
		f.products = 5000
	}
	if !f.set["batch-size"] {
		f.batch = 100
	}
	if !f.set["rate"] {
		f.rate = 200
	}
}

// benchServer is a reco process running in this one.
type benchServer struct {
	URL  string
	App  *app.App
	stop func() error
}

func startBenchServer(cfg config.Config, logw io.Writer) (*benchServer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a, err := app.Open(cfg, app.Options{Logger: newLogger("warn", logw)})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("start reco: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	s := &benchServer{URL: "http://" + ln.Addr().String(), App: a}
	var once sync.Once
	var runErr error
	s.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	if err := waitHTTP(s.URL+"/ready", 60*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("reco not ready: %w", err)
	}
	return s, nil
}

// waitHTTP polls url until it answers 200.
func waitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// seed loads the synthetic catalog and history and waits until the stream
// has applied it.
func (s *benchServer) seed(ctx context.Context, f *benchFlags) error {
	fmt.Fprintf(f.stderr, "%s: seeding %d products and %d users\n", f.scenario, f.products, f.users)
	o := f.options(s.URL, loadgen.ScenarioRecommend, 1)
	if err := loadgen.Prepare(ctx, o); err != nil {
		return err
	}
	return s.settle(ctx)
}

func (s *benchServer) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := s.App.WaitApplied(ctx); err != nil {
		return fmt.Errorf("wait for the stream: %w", err)
	}
	return nil
}

// benchUser is the id loadgen gives user n.
func benchUser(n int) string { return fmt.Sprintf("u%06d", n) }

// streamEvents sums the behaviour events of users 0..users-1 in the
// stream's own state (what it applied).
func (s *benchServer) streamEvents(users int) int64 {
	var sum int64
	for i := range users {
		if u, ok := s.App.Store.User(benchUser(i)); ok && u != nil {
			sum += u.Total
		}
	}
	return sum
}

// servedEvents sums the same through the API, which reads the online
// store (Redis, when it is configured).
func (s *benchServer) servedEvents(ctx context.Context, users int) (int64, error) {
	var sum atomic.Int64
	var firstErr error
	var mu sync.Mutex
	ids := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				n, err := userEvents(ctx, s.URL, benchUser(i))
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					continue
				}
				sum.Add(n)
			}
		}()
	}
	for i := range users {
		ids <- i
	}
	close(ids)
	wg.Wait()
	return sum.Load(), firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// userEvents reads one user's total_events; 0 for an unknown user.
func userEvents(ctx context.Context, base, id string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/users/"+id+"/features", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return 0, nil
	default:
		return 0, fmt.Errorf("GET features of %s: %s", id, resp.Status)
	}
	var v struct {
		Features struct {
			TotalEvents int64 `json:"total_events"`
		} `json:"features"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("features of %s: %w", id, err)
	}
	return v.Features.TotalEvents, nil
}

// runPhased runs recommend requests at f.rate and event batches at
// f.eventsRate against base at the same time, over phases before,
// failure and repair (a third of f.duration each), calling fail and repair
// as the failure and repair phases begin. Only the recommend run has a
// warmup; the ingest run starts as it ends, so that every event it sends
// is counted.
func runPhased(ctx context.Context, f *benchFlags, base string, names [3]string, fail, repair func()) (rec, ing loadgen.Result, err error) {
	third := f.duration / 3
	phases := func(fail, repair func()) []loadgen.Phase {
		return []loadgen.Phase{{Name: names[0]}, {Name: names[1], At: third, Enter: fail}, {Name: names[2], At: 2 * third, Enter: repair}}
	}
	ro := f.options(base, loadgen.ScenarioRecommend, f.rate)
	ro.Phases = phases(fail, repair)
	ro.Progress = prefixed(f.progress, "recommend ")
	io := f.options(base, loadgen.ScenarioEvents, f.eventsRate)
	io.Warmup = -1
	io.Phases = phases(nil, nil)
	io.Progress = prefixed(f.progress, "ingest    ")
	var wg sync.WaitGroup
	var ingErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if f.warmup > 0 {
			select {
			case <-ctx.Done():
				ingErr = ctx.Err()
				return
			case <-time.After(f.warmup):
			}
		}
		ing, ingErr = loadgen.Run(ctx, io)
	}()
	rec, err = loadgen.Run(ctx, ro)
	wg.Wait()
	return rec, ing, errors.Join(err, ingErr)
}

// prefixed writes each line to w with a prefix; nil stays nil.
func prefixed(w io.Writer, prefix string) io.Writer {
	if w == nil {
		return nil
	}
	return &prefixWriter{w: w, prefix: prefix}
}

type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out.WriteString(p.prefix)
		out.Write(sc.Bytes())
		out.WriteByte('\n')
	}
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// print writes the report as tables, or as JSON.
func (r *failureReport) print(f *benchFlags) error {
	if f.asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(f.stdout, string(b))
		return nil
	}
	w := f.stdout
	fmt.Fprintf(w, "scenario:  %s\n", r.Scenario)
	fmt.Fprintf(w, "failure:   %s\n", r.Failure)
	fmt.Fprintf(w, "method:    %s\n", r.Method)
	fmt.Fprintf(w, "\nrecommend (POST /v1/recommend, %g req/s; fallbacks from the response's \"fallback\" field):\n", r.Recommend.Rate)
	loadgen.PrintPhases(w, r.Recommend.Phases)
	fmt.Fprintf(w, "\ningest (POST /v1/events, %g batches/s):\n", r.Ingest.Rate)
	loadgen.PrintPhases(w, r.Ingest.Phases)
	fmt.Fprintln(w, "\nevents:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  acknowledged (202) during the run\t%d\n", r.Events.Acknowledged)
	fmt.Fprintf(tw, "  applied by the stream\t%d\n", r.Events.Applied)
	fmt.Fprintf(tw, "  served by GET /v1/users/{id}/features\t%d\n", r.Events.Served)
	tw.Flush()
	verdict := "no acknowledged event lost"
	if !r.Events.ok() {
		verdict = fmt.Sprintf("MISMATCH: %d acknowledged events not applied; served %d of %d applied", r.Events.Lost, r.Events.Served, r.Events.Applied)
	}
	fmt.Fprintf(w, "  result: %s\n", verdict)
	if len(r.Metrics) > 0 {
		fmt.Fprintln(w, "\nserver counters at the end (whole process life):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range slices.Sorted(maps.Keys(r.Metrics)) {
			fmt.Fprintf(tw, "  %s\t%.0f\n", k, r.Metrics[k])
		}
		tw.Flush()
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

// checkEvents fills r.Events from the users' event counts at the end and
// before the run (when the stream and the API agreed on them), and
// returns an error when an acknowledged event is missing.
func (r *failureReport) checkEvents(ctx context.Context, s *benchServer, users int, before int64, wait time.Duration) error {
	if err := s.settle(ctx); err != nil {
		return err
	}
	m, err := scrapeMetrics(ctx, s.URL, reportMetrics)
	if err != nil {
		r.Notes = append(r.Notes, "reading /metrics: "+err.Error())
	}
	r.Metrics = m
	after := s.streamEvents(users)
	r.Events.Acknowledged = r.Ingest.Accepted
	r.Events.Applied = after - before
	r.Events.Lost = max(0, r.Events.Acknowledged-r.Events.Applied)
	// The online store may lag the stream (the Redis export): give it wait.
	served, err := s.waitServed(ctx, users, after, wait)
	r.Events.Served = served - before
	if err != nil {
		r.Notes = append(r.Notes, err.Error())
	}
	if !r.Events.ok() {
		return fmt.Errorf("%s: acknowledged %d events, the stream applied %d, the API serves %d", r.Scenario,
			r.Events.Acknowledged, r.Events.Applied, r.Events.Served)
	}
	return nil
}

// waitServed polls the users' event counts through the API until they add
// up to want, or d passes; it returns the last sum.
func (s *benchServer) waitServed(ctx context.Context, users int, want int64, d time.Duration) (int64, error) {
	deadline := time.Now().Add(d)
	for {
		got, err := s.servedEvents(ctx, users)
		if err == nil && got == want {
			return got, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("the API serves %d events of users u000000..%s after %s, the stream applied %d", got, benchUser(users-1), d, want)
			}
			return got, err
		}
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// keepLogOnError removes the server log after a scenario that succeeded,
// and names it in the error of one that did not.
func keepLogOnError(logf *os.File, err *error) {
	logf.Close()
	if *err == nil {
		os.Remove(logf.Name())
		return
	}
	*err = fmt.Errorf("%w (server log: %s)", *err, logf.Name())
}

// benchTemp makes the scenario's temporary directory and server log.
func benchTemp(scenario string) (dir string, logf *os.File, err error) {
	dir, err = os.MkdirTemp("", "reco-bench-"+scenario+"-")
	if err != nil {
		return "", nil, err
	}
	logf, err = os.CreateTemp("", "reco-bench-"+scenario+"-*.log")
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, logf, nil
}

func benchConfig(dataDir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.Addr = "127.0.0.1:0"
	cfg.Recommend.PrecomputeSchedule = ""
	return cfg
}

// redisProc is a redis-server of the bench's own, without persistence.
type redisProc struct {
	bin, dir, addr string
	mu             sync.Mutex
	cmd            *exec.Cmd
}

func (r *redisProc) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", r.bin, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !redisPing(r.addr) {
		if time.Now().After(deadline) {
			r.killLocked()
			return fmt.Errorf("%s on %s did not answer PING within 10s (see %s)", r.bin, r.addr, filepath.Join(r.dir, "redis.log"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// kill ends the server with SIGKILL, as a crash would.
func (r *redisProc) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killLocked()
}

func (r *redisProc) killLocked() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	r.cmd.Wait()
	r.cmd = nil
}

func redisPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	b := make([]byte, 7)
	n, _ := io.ReadAtLeast(c, b, 5)
	return strings.HasPrefix(string(b[:n]), "+PONG")
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// benchRedisKilled runs reco with Redis as its online store, kills Redis
// (SIGKILL) at a third of the run and starts it again, empty, at two
// thirds.
func benchRedisKilled(ctx context.Context, f *benchFlags) (err error) {
	bin, lerr := exec.LookPath(f.redisServer)
	if lerr != nil {
		return fmt.Errorf("redis-killed: %s not found on PATH (Debian: apt-get install redis-server)", f.redisServer)
	}
	f.failureDefaults()
	dir, logf, err := benchTemp(f.scenario)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer keepLogOnError(logf, &err)
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	rd := &redisProc{bin: bin, dir: filepath.Join(dir, "redis"), addr: addr}
	if err := os.MkdirAll(rd.dir, 0o755); err != nil {
		return err
	}
	if err := rd.start(); err != nil {
		return fmt.Errorf("redis-killed: %w", err)
	}
	defer rd.kill()
	fmt.Fprintf(f.stderr, "redis-killed: redis-server on %s; reco data in %s; server log %s\n", addr, dir, logf.Name())

	cfg := benchConfig(filepath.Join(dir, "data"))
	cfg.OnlineStore.Type = "redis"
	cfg.OnlineStore.Addresses = []string{addr}
	s, err := startBenchServer(cfg, logf)
	if err != nil {
		return fmt.Errorf("redis-killed: %w", err)
	}
	defer func() {
		if serr := s.stop(); serr != nil && err == nil {
			err = fmt.Errorf("redis-killed: reco shut down with: %w", serr)
		}
	}()
	if err := s.seed(ctx, f); err != nil {
		return fmt.Errorf("redis-killed: %w", err)
	}
	// Serving reads Redis: wait for the export and the popularity index.
	fmt.Fprintln(f.stderr, "redis-killed: waiting for the state to reach Redis")
	if err := waitRecommend(ctx, s.URL, benchUser(1), 60*time.Second); err != nil {
		return fmt.Errorf("redis-killed: %w", err)
	}
	before := s.streamEvents(f.users)
	if _, err := s.waitServed(ctx, f.users, before, time.Minute); err != nil {
		return fmt.Errorf("redis-killed: before the run: %w", err)
	}

	third := f.duration / 3
	var restartErr error
	rec, ing, err := runPhased(ctx, f, s.URL, [3]string{"before", "redis down", "after restart"},
		func() {
			fmt.Fprintf(f.stderr, "redis-killed: SIGKILL redis-server at %s\n", third)
			rd.kill()
		},
		func() {
			fmt.Fprintf(f.stderr, "redis-killed: restarting redis-server (empty) at %s\n", 2*third)
			restartErr = rd.start()
		})
	if err != nil {
		return fmt.Errorf("redis-killed: %w", err)
	}
	if restartErr != nil {
		return fmt.Errorf("redis-killed: %w", restartErr)
	}
	r := &failureReport{
		Scenario: "redis-killed",
		Failure: fmt.Sprintf("redis-server (the online store) killed with SIGKILL at %s, restarted empty at %s; reco in process, embedded log, %d users, %d products",
			third, 2*third, f.users, f.products),
		Method:    rec.Method() + fmt.Sprintf("; ingest alongside: %g batches/s of %d events, no warmup", f.eventsRate, f.batch),
		Recommend: rec, Ingest: ing,
	}
	fmt.Fprintln(f.stderr, "redis-killed: checking every acknowledged event reached the stream and Redis")
	cerr := r.checkEvents(ctx, s, f.users, before, time.Minute)
	if perr := r.print(f); perr != nil {
		return perr
	}
	return cerr
}

// waitRecommend polls a recommend request for user until the full path
// serves it (no fallback).
func waitRecommend(ctx context.Context, base, user string, d time.Duration) error {
	deadline := time.Now().Add(d)
	last := ""
	for {
		resp, err := http.Post(base+"/v1/recommend", "application/json", strings.NewReader(`{"user_id":"`+user+`"}`))
		if err == nil {
			var v struct {
				Fallback string `json:"fallback"`
			}
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && v.Fallback == "" {
				return nil
			}
			last = fmt.Sprintf("status %d, fallback %q", resp.StatusCode, v.Fallback)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("recommend for %s still degraded after %s: %s", user, d, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// benchDiskFull runs reco with its data dir on a small tmpfs, fills the
// tmpfs at a third of the run (a filler file leaves --headroom bytes,
// which ingest and the impression log then fill), and deletes the filler
// at two thirds.
func benchDiskFull(ctx context.Context, f *benchFlags) (err error) {
	f.failureDefaults()
	dir, logf, err := benchTemp(f.scenario)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer keepLogOnError(logf, &err)
	mnt := filepath.Join(dir, "tmpfs")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return err
	}
	if out, merr := exec.Command("mount", "-t", "tmpfs", "-o", "size="+f.tmpfsSize, "tmpfs", mnt).CombinedOutput(); merr != nil {
		return fmt.Errorf("disk-full: cannot mount a tmpfs (needs root): %v: %s", merr, strings.TrimSpace(string(out)))
	}
	defer func() {
		if out, uerr := exec.Command("umount", mnt).CombinedOutput(); uerr != nil {
			exec.Command("umount", "-l", mnt).Run()
			if err == nil {
				err = fmt.Errorf("disk-full: umount %s: %v: %s", mnt, uerr, strings.TrimSpace(string(out)))
			}
		}
	}()
	fmt.Fprintf(f.stderr, "disk-full: reco data on a %s tmpfs at %s; server log %s\n", f.tmpfsSize, mnt, logf.Name())

	cfg := benchConfig(filepath.Join(mnt, "data"))
	cfg.EventLog.SegmentBytes = 1 << 20
	s, err := startBenchServer(cfg, logf)
	if err != nil {
		return fmt.Errorf("disk-full: %w", err)
	}
	defer func() {
		if serr := s.stop(); serr != nil && err == nil {
			err = fmt.Errorf("disk-full: reco shut down with: %w", serr)
		}
	}()
	if err := s.seed(ctx, f); err != nil {
		return fmt.Errorf("disk-full: %w", err)
	}
	before := s.streamEvents(f.users)
	if _, err := s.waitServed(ctx, f.users, before, time.Minute); err != nil {
		return fmt.Errorf("disk-full: before the run: %w", err)
	}

	headroom := max(f.headroom, 0)
	filler := filepath.Join(mnt, "filler")
	third := f.duration / 3
	var notes []string
	var notesMu sync.Mutex
	note := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		fmt.Fprintln(f.stderr, "disk-full: "+s)
		notesMu.Lock()
		notes = append(notes, s)
		notesMu.Unlock()
	}
	rec, ing, err := runPhased(ctx, f, s.URL, [3]string{"before", "disk full", "space freed"},
		func() {
			n, werr := fill(mnt, filler, headroom)
			note("at %s wrote a %.1f MiB filler, leaving %d KiB for ingest to fill (write error: %v)", third, float64(n)/(1<<20), headroom>>10, werr)
		},
		func() {
			rerr := os.Remove(filler)
			note("at %s deleted the filler (error: %v)", 2*third, rerr)
		})
	if err != nil {
		return fmt.Errorf("disk-full: %w", err)
	}
	r := &failureReport{
		Scenario: "disk-full",
		Failure: fmt.Sprintf("the data dir's %s tmpfs filled at %s (filler file, then ingest), freed at %s (filler deleted); reco in process, %d users, %d products",
			f.tmpfsSize, third, 2*third, f.users, f.products),
		Method:    rec.Method() + fmt.Sprintf("; ingest alongside: %g batches/s of %d events, no warmup", f.eventsRate, f.batch),
		Recommend: rec, Ingest: ing, Notes: notes,
	}
	fmt.Fprintln(f.stderr, "disk-full: checking every acknowledged event reached the stream")
	cerr := r.checkEvents(ctx, s, f.users, before, 10*time.Second)
	if perr := r.print(f); perr != nil {
		return perr
	}
	return cerr
}

// fill writes a file at path that leaves about headroom bytes free on the
// file system of dir, and returns its size.
func fill(dir, path string, headroom int64) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	want := int64(st.Bavail)*int64(st.Bsize) - headroom
	fh, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	chunk := make([]byte, 1<<20)
	var n int64
	for n < want {
		k, err := fh.Write(chunk[:min(int64(len(chunk)), want-n)])
		n += int64(k)
		if err != nil {
			return n, err // ENOSPC: ingest got there first
		}
	}
	return n, nil
}
