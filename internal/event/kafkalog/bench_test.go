package kafkalog

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/recohq/reco/internal/event"
)

// BenchmarkEndToEnd produces batches of 1,000 events (~100 bytes each in
// the binary encoding) with Append and reads them back with one Reader per
// partition, over kfake on loopback. events/s counts an event once it has
// been acknowledged to the producer and returned by a reader.
//
//	go test -run '^$' -bench EndToEnd -benchtime 200x ./internal/event/kafkalog/
func BenchmarkEndToEnd(b *testing.B) {
	for _, parts := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			benchEndToEnd(b, parts)
		})
	}
}

func benchEndToEnd(b *testing.B, parts int) {
	const batch = 1000
	c := newCluster(b, int32(parts))
	l := openLog(b, c, nil)
	recs := make([]Record, batch)
	size := 0
	for i := range recs {
		e := testEvent(i)
		e.SessionID = fmt.Sprintf("session-%08d", i)
		e.Category = "electronics/phones"
		e.RequestID = fmt.Sprintf("req-%024d", i)
		data := event.AppendEvent(nil, &e)
		size += len(data)
		recs[i] = Record{Partition: i % parts, Key: []byte(e.UserID), Data: data}
	}
	perPart := make([]int, parts)
	for _, r := range recs {
		perPart[r.Partition]++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	b.SetBytes(int64(size))
	b.ResetTimer()
	var wg sync.WaitGroup
	errc := make(chan error, parts+1)
	for p := 0; p < parts; p++ {
		r, err := l.NewReader(p, l.EndOffset(p))
		if err != nil {
			b.Fatal(err)
		}
		want := perPart[p] * b.N
		wg.Go(func() {
			defer r.Close()
			for n := 0; n < want; n++ {
				if _, _, err := r.Next(ctx); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(size)/batch, "B/event")
}
