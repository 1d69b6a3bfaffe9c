package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// redisServer runs a redis-server of the test's own on a loopback port.
type redisServer struct {
	t    *testing.T
	port string
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, port string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("RECO_TEST_REDIS") == "1" {
			t.Fatal("RECO_TEST_REDIS=1 but redis-server is not installed")
		}
		t.Skip("redis-server not installed")
	}
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(func() { r.kill() })
	return r
}

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", r.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	waitFor(r.t, 10*time.Second, func() bool {
		out, err := exec.Command("redis-cli", "-p", r.port, "ping").Output()
		return err == nil && strings.TrimSpace(string(out)) == "PONG"
	})
}

func (r *redisServer) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// TestRedisKilled: with Redis as the online store, Redis is killed under
// traffic. Every recommend request is still answered (from the local
// feature cache, or popular items), ingest goes on (the log does not need
// Redis), and once Redis is back the service recovers by itself and no
// acknowledged event is lost.
func TestRedisKilled(t *testing.T) {
	port := strings.TrimPrefix(freePort(t), "127.0.0.1:")
	rd := startRedis(t, port)
	cfg := testConfig(t, filepath.Join(t.TempDir(), "data"))
	cfg.OnlineStore.Type = "redis"
	cfg.OnlineStore.Addresses = []string{"127.0.0.1:" + port}
	s := startServer(t, cfg)
	postHistory(t, s.URL, 3000)
	s.settle()
	waitFor(t, 10*time.Second, func() bool { // exported to Redis
		var uf userFeatures
		return do(t, "GET", s.URL+"/v1/users/u1/features", "", "", &uf) == 200
	})
	for i := 0; i < 20; i++ { // warm the local cache for u0..u19
		do(t, "POST", s.URL+"/v1/recommend", "", fmt.Sprintf(`{"user_id":"u%d"}`, i), nil)
	}

	// Serving's popularity index is loaded from Redis every second.
	waitFor(t, 10*time.Second, func() bool { return len(s.App.Redis.Index().Global) > 0 })
	rd.kill()
	fallbacks := map[string]int{}
	for i := 0; i < 200; i++ {
		var rr struct {
			Fallback        string            `json:"fallback"`
			Recommendations []json_rawMessage `json:"recommendations"`
		}
		code := do(t, "POST", s.URL+"/v1/recommend", "", fmt.Sprintf(`{"user_id":"u%d"}`, i%40), &rr)
		if code != 200 || len(rr.Recommendations) == 0 {
			t.Fatalf("request %d with Redis down: %d, %d items", i, code, len(rr.Recommendations))
		}
		fallbacks[rr.Fallback]++
	}
	if fallbacks["feature_cache"] == 0 || fallbacks["popular"] == 0 || fallbacks[""] != 0 {
		t.Errorf("fallbacks with Redis down: %v (want the cache for known users, popular for the others, never the live path)", fallbacks)
	}
	// Ingest is acknowledged while Redis is down.
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, `{"user_id":"outage-user","event_type":"click","product_id":"p1"}`)
	}
	if code := do(t, "POST", s.URL+"/v1/events", "application/x-ndjson", ndjson(lines...), nil); code != 202 {
		t.Fatalf("ingest with Redis down: %d", code)
	}

	rd.start() // back, empty: the state is written again
	waitFor(t, 20*time.Second, func() bool {
		var rr struct {
			Fallback string `json:"fallback"`
		}
		do(t, "POST", s.URL+"/v1/recommend", "", `{"user_id":"u30"}`, &rr)
		var uf userFeatures
		do(t, "GET", s.URL+"/v1/users/outage-user/features", "", "", &uf)
		return rr.Fallback == "" && uf.Features.Clicks == 50
	})
}

type json_rawMessage = map[string]any
