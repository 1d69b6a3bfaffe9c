package app

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/recohq/reco/internal/config"
	"github.com/recohq/reco/internal/event"
	"github.com/recohq/reco/internal/recommend"
)

// TestPrecomputeIntoRedis: with Redis as the online store, precomputed
// lists go to Redis too, so that another process (an API replica, with no
// precomputation of its own) serves the same lists.
func TestPrecomputeIntoRedis(t *testing.T) {
	addr := testRedis(t)
	prefix := fmt.Sprintf("pre%d:", time.Now().UnixNano())
	open := func() *App {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.OnlineStore.Type, cfg.OnlineStore.Addresses, cfg.OnlineStore.Prefix = "redis", []string{addr}, prefix
		cfg.Recommend.PrecomputeSchedule = ""
		return openApp(t, cfg)
	}
	a := open()
	defer runApp(t, a)()
	ctx := context.Background()
	evs := make([]event.Event, 0, 600)
	for i := 0; i < 600; i++ {
		evs = append(evs, event.Event{Type: event.View, UserID: fmt.Sprintf("u%d", i%30), ProductID: fmt.Sprintf("p%d", (i*7)%40),
			SessionID: "s", Price: -1, Quantity: 1, Time: time.Now().UnixMilli() - int64(600-i)*1000})
	}
	if err := a.IngestEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitApplied(ctx); err != nil {
		t.Fatal(err)
	}
	a.Store.RefreshIndex()
	// The live path reads Redis: wait for the export.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if u, ok := a.Redis.User("u3"); ok && u != nil && u.Total == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the users never reached Redis")
		}
	}
	st, err := a.Precompute(ctx, 5, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Users < 25 {
		t.Fatalf("precomputed %d users, want about 30", st.Users)
	}
	mine, ok := a.Precomputed("u3")
	if !ok || len(mine) == 0 {
		t.Fatal("no precomputed list for u3 in the precomputing process")
	}
	replica := open()
	defer replica.Close()
	ok = false
	// The replica's first read also dials Redis, which can take longer
	// than the read's own deadline on a loaded machine: a few tries.
	var got []recommend.Item
	for try := 0; try < 50 && !ok; try++ {
		got, ok = replica.Precomputed("u3")
		if !ok {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !ok || !reflect.DeepEqual(got, mine) {
		t.Fatalf("the replica reads %v (%v) from Redis, want %v", got, ok, mine)
	}
	if _, ok := replica.Precomputed("nobody"); ok {
		t.Error("a precomputed list for an unknown user")
	}
}
