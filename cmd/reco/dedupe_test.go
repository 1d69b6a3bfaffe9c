package main

import (
	"fmt"
	"testing"
)

// TestRetriedEventsCountOnce: a client that retries a batch (its first
// attempt may have landed) sends the same event_ids again; each event is
// counted once, across a restart too (the filter is checkpointed). Events
// without an event_id, and another user's event with the same id, count.
func TestRetriedEventsCountOnce(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	batch := ndjson(
		`{"user_id":"u1","event_type":"click","product_id":"p1","event_id":"e-1"}`,
		`{"user_id":"u1","event_type":"purchase","product_id":"p1","event_id":"e-2"}`,
		`{"user_id":"u1","event_type":"view","product_id":"p2"}`,
		`{"user_id":"u2","event_type":"click","product_id":"p1","event_id":"e-1"}`,
	)
	for i := 0; i < 3; i++ {
		if code := do(t, "POST", s.URL+"/v1/events", "application/x-ndjson", batch, nil); code != 202 {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	s.settle()
	check := func(when string, s *server) {
		t.Helper()
		for _, c := range []struct {
			user                    string
			total, clicks, purchase int64
		}{{"u1", 2 + 3, 1, 1}, {"u2", 1, 1, 0}} {
			var uf userFeatures
			if code := do(t, "GET", fmt.Sprintf("%s/v1/users/%s/features", s.URL, c.user), "", "", &uf); code != 200 {
				t.Fatalf("%s: features of %s: %d", when, c.user, code)
			}
			f := uf.Features
			if f.TotalEvents != c.total || f.Clicks != c.clicks || f.Purchases != c.purchase {
				t.Errorf("%s: %s has %d events, %d clicks, %d purchases; want %d, %d, %d",
					when, c.user, f.TotalEvents, f.Clicks, f.Purchases, c.total, c.clicks, c.purchase)
			}
		}
	}
	check("after three attempts", s)
	s.stop()
	s2 := startServer(t, testConfig(t, dir))
	if code := do(t, "POST", s2.URL+"/v1/events", "application/x-ndjson", batch, nil); code != 202 {
		t.Fatalf("attempt after restart: %d", code)
	}
	s2.settle()
	// The retry after the restart adds only the view without an id.
	var uf userFeatures
	do(t, "GET", s2.URL+"/v1/users/u1/features", "", "", &uf)
	if uf.Features.TotalEvents != 6 || uf.Features.Clicks != 1 {
		t.Errorf("after a restart and a retry: u1 has %d events, %d clicks; want 6, 1", uf.Features.TotalEvents, uf.Features.Clicks)
	}
}
