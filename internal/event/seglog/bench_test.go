package seglog

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend appends batches of 1,000 records of 120 bytes spread over
// 8 partitions. One op is one batch; records/s is the figure to compare.
func BenchmarkAppend(b *testing.B) {
	for _, fsync := range []string{FsyncAlways, FsyncNever} {
		for _, writers := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("fsync=%s/writers=%d", fsync, writers), func(b *testing.B) {
				l := mustOpen(b, Options{Dir: b.TempDir(), Partitions: 8, Fsync: fsync})
				defer l.Close()
				const batch = 1000
				b.SetBytes(batch * 120)
				b.ReportAllocs()
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := range writers {
					wg.Go(func() {
						recs := make([]Record, batch)
						for i := range recs {
							recs[i] = Record{Partition: (i + w) % 8, Data: bytes.Repeat([]byte{byte('a' + w)}, 120)}
						}
						for next.Add(1) <= int64(b.N) {
							if _, err := l.Append(context.Background(), recs); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "records/s")
			})
		}
	}
}

// BenchmarkReader reads one partition of 1,000,000 records of 120 bytes from
// the start. One op is the whole partition.
func BenchmarkReader(b *testing.B) {
	const n = 1_000_000
	l := mustOpen(b, Options{Dir: b.TempDir(), Partitions: 1, Fsync: FsyncNever})
	defer l.Close()
	recs := make([]Record, 1000)
	for i := range recs {
		recs[i] = Record{Data: bytes.Repeat([]byte("r"), 120)}
	}
	for range n / len(recs) {
		mustAppend(b, l, recs)
	}
	b.SetBytes(n * 120)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		r, err := l.NewReader(0, 0)
		if err != nil {
			b.Fatal(err)
		}
		count := 0
		for {
			_, data, ok, err := r.TryNext()
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
			count += len(data) / 120
		}
		r.Close()
		if count != n {
			b.Fatalf("read %d records", count)
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "records/s")
}
