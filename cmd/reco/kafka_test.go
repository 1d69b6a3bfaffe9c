package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/event/kafkalog"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/redisstore"
)

// kafkaFixture is a Kafka cluster (franz-go's kfake: the real wire
// protocol, in this test process) plus the Redis the stream workers share.
type kafkaFixture struct {
	brokers string
	redis   string
	shared  string // the offline store every process shares (checkpoints)
	parts   int
	cluster *kfake.Cluster
}

func newKafkaFixture(t *testing.T, parts int) *kafkaFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	addr := os.Getenv("RECO_TEST_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("RECO_TEST_REDIS") == "1" {
			t.Fatal("RECO_TEST_REDIS=1 but RECO_TEST_REDIS_ADDR is unset")
		}
		t.Skip("no Redis (RECO_TEST_REDIS_ADDR)")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(parts), kafkalog.DefaultTopic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &kafkaFixture{brokers: strings.Join(c.ListenAddrs(), ","), redis: addr, shared: t.TempDir(), parts: parts, cluster: c}
}

// args are a reco serve's flags for consumer group group writing Redis keys
// under prefix.
func (f *kafkaFixture) args(role, group, prefix string) []string {
	return []string{"--role", role,
		"--event-log-type", "kafka", "--event-log-brokers", f.brokers, "--event-log-partitions", fmt.Sprint(f.parts),
		"--event-log-group", group, "--event-log-session-timeout", "1s",
		"--online-store-type", "redis", "--online-store-addresses", f.redis, "--online-store-prefix", prefix,
		"--online-store-checkpoint-interval", "100ms",
		"--offline-store-path", f.shared}
}

// waitCommitted waits until group has committed every partition's end:
// every record is applied and in a shared checkpoint.
func (f *kafkaFixture) waitCommitted(t *testing.T, group string, d time.Duration) {
	t.Helper()
	l, err := kafkalog.Open(context.Background(), kafkalog.Options{Brokers: strings.Split(f.brokers, ","), Group: group})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var lag map[int32]int64
	waitFor(t, d, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lag, err = l.CommittedLag(ctx)
		if err != nil {
			return false
		}
		for _, n := range lag {
			if n > 0 {
				return false
			}
		}
		return len(lag) == f.parts
	})
}

// TestKafkaScaleOutExactlyOnce runs three stream workers in one consumer
// group over a four-partition topic, kills one with SIGKILL mid-stream, and
// checks that the survivors take its partitions over and that the features
// in Redis then equal those of one clean process over the same topic
// (another consumer group, other keys): every user, every product (whose
// counters several partitions feed) and the co-visitation lists.
func TestKafkaScaleOutExactlyOnce(t *testing.T) {
	f := newKafkaFixture(t, 4)
	pfx := fmt.Sprintf("kafka%d", time.Now().UnixNano())
	const users, products, batches = 60, 150, 40
	batchOf := func(b int) string {
		rng := rand.New(rand.NewPCG(uint64(b), 11))
		var lines []string
		for i := 0; i < 100; i++ {
			u := rng.IntN(users)
			typ := []string{"view", "view", "click", "add_to_cart", "purchase"}[rng.IntN(5)]
			lines = append(lines, fmt.Sprintf(`{"user_id":"u%d","event_type":%q,"product_id":"p%d","session_id":"s%d","timestamp":%d}`,
				u, typ, rng.IntN(products), u, 1790000000000+int64(b*100+i)*1000))
		}
		return ndjson(lines...)
	}
	var workers []*child
	for i := 0; i < 3; i++ {
		workers = append(workers, startChild(t, t.TempDir(), f.args("stream", "scaled", pfx+"a:")...))
	}
	for _, w := range workers {
		waitFor(t, 30*time.Second, func() bool { return metricValue(t, w.url, "reco_stream_partitions_owned") > 0 })
	}
	for b := 0; b < batches; b++ {
		if b == batches/2 {
			// Once the worker has applied part of it (and checkpointed
			// some), kill it: its partitions move to the others after the
			// session timeout, and they resume from its last shared
			// checkpoint.
			waitFor(t, 30*time.Second, func() bool {
				return metricValue(t, workers[1].url, "reco_stream_records_applied_total") > 0
			})
			time.Sleep(150 * time.Millisecond)
			workers[1].kill(t)
		}
		if code := do(t, "POST", workers[0].url+"/v1/events", "application/x-ndjson", batchOf(b), nil); code != 202 {
			t.Fatalf("batch %d: %d", b, code)
		}
	}
	f.waitCommitted(t, "scaled", 60*time.Second)

	// One clean process over the same topic.
	startChild(t, t.TempDir(), f.args("all", "clean", pfx+"b:")...)
	f.waitCommitted(t, "clean", 60*time.Second)

	open := func(prefix string) *redisstore.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := redisstore.Open(ctx, redisstore.Options{Addresses: []string{f.redis}, Prefix: prefix, Partitioned: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	scaled, clean := open(pfx+"a:"), open(pfx+"b:")
	pids := make([]string, products)
	for i := range pids {
		pids[i] = fmt.Sprintf("p%d", i)
	}
	// The exports follow the checkpoints by at most a flush interval.
	var diff string
	same := func() bool {
		diff = ""
		var total int64
		for u := 0; u < users; u++ {
			id := fmt.Sprintf("u%d", u)
			a, _ := scaled.User(id)
			b, _ := clean.User(id)
			if !reflect.DeepEqual(a, b) {
				diff = fmt.Sprintf("user %s: scaled %+v, clean %+v", id, a, b)
				return false
			}
			if a != nil {
				total += a.Total
			}
		}
		if total != batches*100 {
			diff = fmt.Sprintf("the users hold %d events, %d were acknowledged", total, batches*100)
			return false
		}
		pa, pb := make([]*feature.Product, products), make([]*feature.Product, products)
		scaled.Products(pids, pa)
		clean.Products(pids, pb)
		var views int64
		for i := range pa {
			if !reflect.DeepEqual(pa[i], pb[i]) {
				diff = fmt.Sprintf("product %s: scaled %+v, clean %+v", pids[i], pa[i], pb[i])
				return false
			}
			if pa[i] != nil {
				views += pa[i].Views
			}
			if ca, cb := scaled.CoVisited(pids[i], 20), clean.CoVisited(pids[i], 20); !reflect.DeepEqual(ca, cb) {
				diff = fmt.Sprintf("co-visitation of %s: scaled %v, clean %v", pids[i], ca, cb)
				return false
			}
		}
		if views == 0 {
			diff = "no product counted a view"
			return false
		}
		return true
	}
	for deadline := time.Now().Add(20 * time.Second); !same(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after a worker was killed, Redis differs from a clean run: %s", diff)
		}
	}
}

// TestKafkaUnavailable: when the brokers are gone, ingest answers 503 with
// Retry-After and acknowledges nothing.
func TestKafkaUnavailable(t *testing.T) {
	f := newKafkaFixture(t, 2)
	api := startChild(t, t.TempDir(), append(f.args("api", "g", fmt.Sprintf("down%d:", time.Now().UnixNano())),
		"--event-log-produce-timeout", "1s")...)
	ev := ndjson(`{"user_id":"u1","event_type":"view","product_id":"p1"}`)
	if code := do(t, "POST", api.url+"/v1/events", "application/x-ndjson", ev, nil); code != 202 {
		t.Fatalf("with Kafka up: %d, want 202", code)
	}
	f.cluster.Close()
	resp, err := http.Post(api.url+"/v1/events", "application/x-ndjson", strings.NewReader(ev))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with Kafka down: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// After a few failures the breaker opens: ingest fails fast, and says so.
	for i := 0; i < 3; i++ {
		if code := do(t, "POST", api.url+"/v1/events", "application/x-ndjson", ev, nil); code != 503 {
			t.Fatalf("with Kafka down, attempt %d: %d, want 503", i, code)
		}
	}
	if v := metricValue(t, api.url, `reco_circuit_breaker_open{dependency="kafka"}`); v != 1 {
		t.Errorf(`reco_circuit_breaker_open{dependency="kafka"} = %v, want 1`, v)
	}
}

// metricValue reads an unlabelled counter or gauge from url's /metrics; 0
// when absent.
func metricValue(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// BenchmarkKafkaStreamWorkers measures the stream side of Kafka mode end to
// end, as deployed: 200,000 events already in a 4-partition kfake topic,
// consumed by N `reco serve --role stream` processes (separate child
// processes in one consumer group) that apply them to per-partition state
// and write the features to Redis. The clock runs from starting the
// processes until the group has committed every partition's end (every
// record applied: no lag left in any worker's /metrics), so it includes
// process start and the group's rebalances. Checkpoints run at the default
// interval (60 s), as in production. events/worker-CPU-s divides by the CPU time
// the worker processes used: the per-core figure, robust to a shared
// machine.
//
//	eval "$(bash scripts/redis-test-server.sh)"
//	go test -run '^$' -bench KafkaStreamWorkers -benchtime 1x ./cmd/reco/
func BenchmarkKafkaStreamWorkers(b *testing.B) {
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("processes=%d", procs), func(b *testing.B) {
			benchKafkaWorkers(b, procs)
		})
	}
}

func benchKafkaWorkers(b *testing.B, procs int) {
	addr := os.Getenv("RECO_TEST_REDIS_ADDR")
	if addr == "" {
		b.Skip("no Redis (RECO_TEST_REDIS_ADDR)")
	}
	const parts, total, users = 4, 200_000, 20_000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, kafkalog.DefaultTopic),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	ctx := context.Background()
	l, err := kafkalog.Open(ctx, kafkalog.Options{Brokers: c.ListenAddrs()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	types := []event.Type{event.View, event.View, event.View, event.Click, event.Click, event.AddToCart, event.Purchase}
	recs := make([]kafkalog.Record, 0, 1000)
	for i := 0; i < total; i++ {
		u := fmt.Sprintf("u%d", rng.IntN(users))
		e := event.Event{Type: types[rng.IntN(len(types))], UserID: u, ProductID: fmt.Sprintf("p%d", rng.IntN(10_000)),
			SessionID: u, Category: fmt.Sprintf("c%d", rng.IntN(50)), Price: 10, Quantity: 1,
			Time: 1790000000000 + int64(i)*10, Ingested: 1790000000000 + int64(i)*10}
		recs = append(recs, kafkalog.Record{Partition: int(fnvPartition(u, parts)), Key: []byte(u), Data: event.AppendEvent(nil, &e)})
		if len(recs) == cap(recs) {
			if _, err := l.Append(ctx, recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	for i := 0; i < b.N; i++ {
		group := fmt.Sprintf("bench%d-%d", time.Now().UnixNano(), i)
		f := &kafkaFixture{brokers: brokers, redis: addr, shared: b.TempDir(), parts: parts}
		args := f.args("stream", group, group+":")
		args = append(args, "--online-store-checkpoint-interval", "60s") // the default
		start := time.Now()
		var cmds []*exec.Cmd
		var urls []string
		for p := 0; p < procs; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			urls = append(urls, "http://"+addr)
			cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
			cmd.Env = append(os.Environ(), "RECO_TEST_CHILD_ARGS="+strings.Join(append([]string{"serve", "--data", b.TempDir(),
				"--addr", addr, "--log-level", "error"}, args...), " "))
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		// Done when the workers together run every partition and none
		// has a record left to apply.
		for {
			owned, lag := 0.0, 0.0
			for _, u := range urls {
				o, l, ok := streamProgress(u)
				if !ok {
					owned = -1
					break
				}
				owned += o
				lag += l
			}
			if owned == parts && lag == 0 {
				break
			}
			if time.Since(start) > 5*time.Minute {
				for _, cmd := range cmds {
					cmd.Process.Kill()
					cmd.Wait()
				}
				b.Fatalf("not done after 5 minutes: %v partitions run, %v records left", owned, lag)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		var cpu time.Duration
		for _, cmd := range cmds {
			cmd.Process.Kill()
			cmd.Wait()
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		b.ReportMetric(float64(total)/took.Seconds(), "events/s")
		// The workers' own CPU (the broker, a fake in this process, and
		// Redis are not in it): what one core of stream worker sustains.
		b.ReportMetric(float64(total)/cpu.Seconds(), "events/worker-CPU-s")
	}
}

// fnvPartition is the app's partitioning (FNV-1a of the key).
func fnvPartition(key string, n int) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32() % uint32(n)
}

// streamProgress reads a worker's owned partitions and the records they
// have left to apply from its /metrics; ok is false until it answers.
func streamProgress(url string) (owned, lag float64, ok bool) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		name, val, found := strings.Cut(line, " ")
		if !found {
			continue
		}
		v, _ := strconv.ParseFloat(val, 64)
		switch {
		case name == "reco_stream_partitions_owned":
			owned = v
		case strings.HasPrefix(name, "reco_stream_lag_records{"):
			lag += v
		}
	}
	return owned, lag, true
}
