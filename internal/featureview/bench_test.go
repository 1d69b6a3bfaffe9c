package featureview

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
)

// BenchmarkApplyDefaults is the stream path's cost per record for the
// shipped views (ns/op is per record; events/s is reported).
func BenchmarkApplyDefaults(b *testing.B) {
	log := randomLog(11, 100_000, t0.UnixMilli())
	e := mustDefaults(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e.Apply(&log[i%len(log)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkGetUserAnd500Products is one request's reads: a user's features
// and 500 candidates' product features.
func BenchmarkGetUserAnd500Products(b *testing.B) {
	e := mustDefaults(b)
	var last int64
	for i := range 200_000 {
		r := event.Record{Kind: event.KindEvent, Event: event.Event{Type: event.Type(1 + i%5), UserID: fmt.Sprintf("u%d", i%1000),
			ProductID: fmt.Sprintf("p%d", (i*7919)%5000), Category: fmt.Sprintf("c%d", i%40), Price: float64(i % 100), Quantity: 1,
			Time: t0.UnixMilli() + int64(i)*1000}}
		e.Apply(&r)
		last = r.Event.Time
	}
	pids := make([]string, 500)
	for i := range pids {
		pids[i] = fmt.Sprintf("p%d", i*9)
	}
	now := time.UnixMilli(last)
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s := time.Now()
		if _, err := e.Get("user_features", []string{"u7"}, nil, now); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Get("product_features", pids, nil, now); err != nil {
			b.Fatal(err)
		}
		if len(lat) < 100_000 {
			lat = append(lat, time.Since(s))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
