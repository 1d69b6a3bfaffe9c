package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// benchRun runs `reco bench` with args and returns its stdout.
func benchRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := cmdBench(context.Background(), args, &out, &errOut)
	t.Logf("reco bench %s\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), tail(errOut.String(), 30), out.String())
	return out.String(), err
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// TestBenchOverload offers twice a (stated) capacity to a small server and
// checks the report's shape: one row per multiplier with goodput, shed
// rate, admitted latency and this process's RSS (the server runs in it).
func TestBenchOverload(t *testing.T) {
	s := startServer(t, testConfig(t, t.TempDir()))
	postHistory(t, s.URL, 2000)
	s.settle()
	out, err := benchRun(t, "--scenario", "overload", "--url", s.URL, "--capacity", "40", "--multiplier", "1,2",
		"--duration", "1s", "--warmup=-1s", "--users", "80", "--pid", fmt.Sprint(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`capacity:  40 recommend req/s \(given with --capacity\)`, "goodput ok/s", "admitted p99", `\n1x +40 `, `\n2x +80 `} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "server RSS not measured") || !strings.Contains(out, " MiB") {
		t.Error("no RSS although --pid was given")
	}

	// Measured capacity; a tenth of it offered keeps the test light.
	out, err = benchRun(t, "--scenario", "overload", "--url", s.URL, "--capacity-probe", "200ms", "--capacity-workers", "2",
		"--multiplier", "0.1", "--duration", "500ms", "--warmup=-1s", "--users", "80", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Capacity float64 `json:"capacity_rps"`
		Runs     []struct {
			Multiplier float64 `json:"multiplier"`
			Offered    float64 `json:"offered_rps"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.Capacity <= 0 || len(j.Runs) != 1 || j.Runs[0].Offered != math.Round(0.1*j.Capacity) {
		t.Errorf("JSON %+v (%v)", j, err)
	}
	if _, err := benchRun(t, "--scenario", "overload", "--url", s.URL, "--multiplier", "two"); err == nil || !strings.Contains(err.Error(), "--multiplier") {
		t.Errorf("bad multiplier: %v", err)
	}
}

// failureReportOf decodes a failure-mode scenario's JSON report.
func failureReportOf(t *testing.T, out string) failureReport {
	t.Helper()
	var r failureReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	return r
}

// jsonPhase is one phase of a JSON report.
type jsonPhase struct {
	Phase          string           `json:"phase"`
	Sent           int64            `json:"sent"`
	OK             int64            `json:"ok"`
	ErrorsByStatus map[string]int64 `json:"errors_by_status"`
	Fallbacks      map[string]int64 `json:"fallbacks"`
}

func phasesOf(t *testing.T, out, which string) []jsonPhase {
	t.Helper()
	type phased struct {
		Phases []jsonPhase `json:"phases"`
	}
	var v struct {
		Recommend phased `json:"recommend"`
		Ingest    phased `json:"ingest"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	p := v.Recommend.Phases
	if which == "ingest" {
		p = v.Ingest.Phases
	}
	if len(p) != 3 {
		t.Fatalf("%s: %d phases", which, len(p))
	}
	return p
}

// TestBenchRedisKilled runs the redis-killed scenario briefly: recommend
// keeps answering while Redis is down (degraded), and no acknowledged
// event is lost. Needs redis-server; skipped without it unless
// RECO_TEST_REDIS=1.
func TestBenchRedisKilled(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("RECO_TEST_REDIS") == "1" {
			t.Fatal("RECO_TEST_REDIS=1 but redis-server is not installed")
		}
		t.Skip("redis-server not installed")
	}
	out, err := benchRun(t, "--scenario", "redis-killed", "--duration", "3s", "--warmup", "500ms", "--users", "300", "--products", "300",
		"--rate", "50", "--events-rate", "5", "--json")
	if err != nil {
		t.Fatal(err)
	}
	r := failureReportOf(t, out)
	if r.Events.Acknowledged == 0 || !r.Events.ok() {
		t.Errorf("events: %+v", r.Events)
	}
	rec := phasesOf(t, out, "recommend")
	if down := rec[1]; down.OK == 0 || len(down.Fallbacks) == 0 {
		t.Errorf("with Redis down: %+v (want answers, degraded)", down)
	}
}

// TestBenchDiskFull runs the disk-full scenario briefly on a 16 MiB tmpfs:
// ingest is refused while it is full (507, or 503), recommend goes on, and
// every acknowledged event is applied. Needs root to mount; skipped
// otherwise unless RECO_TEST_DISKFULL=1.
func TestBenchDiskFull(t *testing.T) {
	out, err := benchRun(t, "--scenario", "disk-full", "--tmpfs-size", "16m", "--headroom", "0", "--duration", "3s", "--warmup", "500ms",
		"--users", "300", "--products", "300", "--rate", "50", "--events-rate", "10", "--json")
	if err != nil && strings.Contains(err.Error(), "cannot mount a tmpfs") {
		if os.Getenv("RECO_TEST_DISKFULL") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	r := failureReportOf(t, out)
	if r.Events.Acknowledged == 0 || !r.Events.ok() {
		t.Errorf("events: %+v", r.Events)
	}
	ing := phasesOf(t, out, "ingest")
	if full := ing[1]; full.ErrorsByStatus["507"]+full.ErrorsByStatus["503"] == 0 {
		t.Errorf("disk full: ingest %+v (want 507 or 503)", full)
	}
	if rec := phasesOf(t, out, "recommend"); rec[1].OK == 0 {
		t.Errorf("disk full: recommend %+v", rec[1])
	}
}

func TestBenchRedisKilledNoBinary(t *testing.T) {
	_, err := benchRun(t, "--scenario", "redis-killed", "--redis-server", "no-such-redis-server")
	if err == nil || !strings.Contains(err.Error(), "no-such-redis-server not found on PATH") {
		t.Errorf("error %v", err)
	}
}
