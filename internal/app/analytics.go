package app

import (
	"context"
	"time"

	"github.com/recohq/reco/internal/analytics/clickhouse"
	"github.com/recohq/reco/internal/event"
)

// feedClickHouse streams the log to ClickHouse: one reader per partition,
// from where ClickHouse's tables end (replays are deduplicated there by
// partition and offset). It slows down instead of letting the sink drop
// records: the log is durable, so an outage only delays the analytics; it
// never blocks ingest or serving.
func (a *App) feedClickHouse(ctx context.Context, sink *clickhouse.Sink, maxBuffer int) error {
	var resume map[int]int64
	for {
		var err error
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resume, err = sink.ResumeOffsets(rctx)
		cancel()
		if err == nil {
			break
		}
		a.Logger.Warn("clickhouse unavailable; analytics export waits", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
	done := make(chan struct{})
	n := a.bus.Partitions()
	for p := 0; p < n; p++ {
		go func(p int) {
			defer func() { done <- struct{}{} }()
			from := max(resume[p], a.bus.StartOffset(p))
			r, err := a.bus.NewReader(p, from)
			if err != nil {
				a.Logger.Error("clickhouse export", "partition", p, "err", err)
				return
			}
			defer r.Close()
			var rec event.Record
			for {
				for sink.Stats().BufferedBytes > maxBuffer/2 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
				off, data, err := r.Next(ctx)
				if err != nil {
					return
				}
				if event.Decode(data, &rec) == nil {
					sink.Write(&rec, p, off)
				}
			}
		}(p)
	}
	for p := 0; p < n; p++ {
		<-done
	}
	return nil
}
