package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/event/kafkalog"
	"github.com/recohq/reco/internal/feature"
	"github.com/recohq/reco/internal/feature/redisstore"
)

// TestKafkaRebalanceInProcess runs two Kafka-mode processes in one test
// binary (so that the race detector sees the group callbacks, the
// per-partition workers and the exporters together): the second joins
// mid-stream and takes half the partitions, then the first leaves and the
// second takes everything. Every event must be counted exactly once in
// Redis.
func TestKafkaRebalanceInProcess(t *testing.T) {
	addr := testRedis(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, kafkalog.DefaultTopic),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prefix := fmt.Sprintf("appkafka%d:", time.Now().UnixNano())
	shared := t.TempDir()
	start := func() (*App, func() error) {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.EventLog.Type, cfg.EventLog.Brokers, cfg.EventLog.Partitions = "kafka", c.ListenAddrs(), 4
		cfg.EventLog.SessionTimeout = config.Duration(time.Second)
		cfg.OnlineStore.Type, cfg.OnlineStore.Addresses, cfg.OnlineStore.Prefix = "redis", []string{addr}, prefix
		cfg.OnlineStore.CheckpointInterval = config.Duration(50 * time.Millisecond)
		cfg.OfflineStore.Path = shared
		cfg.Recommend.PrecomputeSchedule = ""
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		a := openApp(t, cfg)
		return a, runApp(t, a)
	}
	const users = 40
	post := func(a *App, b int) {
		evs := make([]event.Event, 50)
		for i := range evs {
			u := (b*50 + i) % users
			evs[i] = event.Event{Type: event.View, UserID: fmt.Sprintf("u%d", u), ProductID: fmt.Sprintf("p%d", i%13),
				SessionID: "s", Price: -1, Quantity: 1, Time: 1790000000000 + int64(b*50+i)}
		}
		if err := a.IngestEvents(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	a1, stop1 := start()
	for b := 0; b < 10; b++ {
		post(a1, b)
	}
	a2, stop2 := start()
	defer stop2()
	for b := 10; b < 20; b++ {
		post(a2, b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for a1.kafka.owned() == 0 || a1.kafka.owned() == 4 {
		if time.Now().After(deadline) {
			t.Fatalf("no rebalance: the first process runs %d partitions", a1.kafka.owned())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop1(); err != nil {
		t.Fatalf("first process: %v", err)
	}
	for b := 20; b < 30; b++ {
		post(a2, b)
	}
	rs, err := redisstore.Open(context.Background(), redisstore.Options{Addresses: []string{addr}, Prefix: prefix, Partitioned: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	// Users and, merged over the partitions' contributions, products:
	// an export writes users before products, so wait for both.
	ids := make([]string, 13)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%d", i)
	}
	ps := make([]*feature.Product, len(ids))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var total, views int64
		for u := 0; u < users; u++ {
			if x, ok := rs.User(fmt.Sprintf("u%d", u)); ok {
				total += x.Total
			}
		}
		rs.Products(ids, ps)
		for _, x := range ps {
			if x != nil {
				views += x.Views
			}
		}
		if total == 30*50 && views == 30*50 && a2.kafka.owned() == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis counts %d events over users and %d views over products (want %d each); the second process runs %d partitions",
				total, views, 30*50, a2.kafka.owned())
		}
	}
}
