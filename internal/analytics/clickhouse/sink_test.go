package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recohq/reco"
	"github.com/recohq/reco/internal/event"
)

// base is fixed so that a record built twice (a replay) is identical.
var base = time.Now().Truncate(time.Minute).UnixMilli()

func evRec(i int) *event.Record {
	return &event.Record{Kind: event.KindEvent, Event: event.Event{Type: event.Purchase, UserID: fmt.Sprint("u", i%7),
		ProductID: fmt.Sprint("p", i%13), Price: 1.25, Quantity: 2, Time: base + int64(i)*997}}
}

func impRec(i, items int) *event.Record {
	im := event.Impression{RequestID: fmt.Sprint("r", i), UserID: "u", Experiment: "e", Variant: "A", Time: base + int64(i)*1009}
	for j := 0; j < items; j++ {
		im.Items = append(im.Items, event.ImpressionItem{ProductID: fmt.Sprint("p", j), Source: "popular", Position: int32(j), Score: 0.5})
	}
	return &event.Record{Kind: event.KindImpression, Impression: im}
}

func TestSinkTablesBatchesReplay(t *testing.T) {
	var flushed atomic.Int64
	s := newTestSink(t, Options{BatchRecords: 7, Hooks: Hooks{OnFlushed: func(n int, _ time.Duration) { flushed.Add(int64(n)) }}})
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		s.Write(evRec(i), i%3, int64(i))
	}
	s.Write(impRec(1, 3), 1, 100)
	s.Write(impRec(2, 0), 1, 101) // an empty list is still a list
	s.Write(&event.Record{Kind: event.KindProduct}, 0, 102)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if flushed.Load() != 52 {
		t.Fatalf("flushed %d records, want 52", flushed.Load())
	}
	tables := mustQuery(t, s, "SELECT name FROM system.tables WHERE database = '"+s.Database()+"' ORDER BY name")
	if fmt.Sprint(tables) != "[[events] [impressions]]" {
		t.Fatalf("tables %v", tables)
	}
	// Replay: the same records again, in other batches.
	for i := 20; i < 50; i++ {
		s.Write(evRec(i), i%3, int64(i))
	}
	s.Write(impRec(1, 3), 1, 100)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	db := s.Database()
	check := func(q, want string) {
		t.Helper()
		if got := fmt.Sprint(mustQuery(t, s, q)); got != want {
			t.Errorf("%s = %s, want %s", q, got, want)
		}
	}
	// Raw rows may still hold the replay (until a merge); FINAL never does.
	if raw := mustQuery(t, s, "SELECT count() >= 50 FROM "+db+".events"); raw[0][0] != "1" {
		t.Fatalf("raw rows %v", raw)
	}
	check("SELECT count(), sum(revenue_micros) FROM "+db+".events FINAL", "[[50 125000000]]")
	check("SELECT countIf(item_index = 0), sum(is_item) FROM "+db+".impressions FINAL", "[[2 3]]")
	check(PurchasesQuery(db)+" LIMIT 0", "[]")
	offs, err := s.ResumeOffsets(ctx)
	if err != nil || offs[0] != 49 || offs[1] != 102 || offs[2] != 48 {
		t.Fatalf("ResumeOffsets = %v, %v", offs, err)
	}
	if st := s.Stats(); st.BufferedRecords != 0 || st.Dropped != 0 || st.Written != 83 || st.Down {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// closedPort returns a loopback URL nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

func TestSinkOutageNeverBlocks(t *testing.T) {
	var dropped, errs atomic.Int64
	s, err := New(Options{URL: closedPort(t), BatchRecords: 100, FlushInterval: 5 * time.Millisecond,
		MaxBufferBytes: 64 << 10, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Hooks: Hooks{OnDropped: func(n int) { dropped.Add(int64(n)) }, OnError: func(error) { errs.Add(1) }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	start := time.Now()
	var slowest time.Duration
	for i := 0; i < 5000; i++ {
		t0 := time.Now()
		if i%2 == 0 {
			s.Write(evRec(i), 0, int64(i))
		} else {
			s.Write(impRec(i, 10), 0, int64(i))
		}
		slowest = max(slowest, time.Since(t0))
		if st := s.Stats(); st.BufferedBytes > 64<<10 {
			t.Fatalf("buffer %d bytes over its bound", st.BufferedBytes)
		}
	}
	// A Write that waited on I/O would take a request timeout (10s) or
	// forever; the bounds leave room for a loaded machine under -race.
	if took := time.Since(start); took > 30*time.Second || slowest > 2*time.Second {
		t.Fatalf("5000 writes took %v, slowest %v", took, slowest)
	}
	t.Logf("5000 writes took %v, slowest %v", time.Since(start), slowest)
	if dropped.Load() == 0 || s.Stats().Dropped != dropped.Load() {
		t.Fatalf("dropped hook %d, stats %+v", dropped.Load(), s.Stats())
	}
	time.Sleep(100 * time.Millisecond)
	if errs.Load() == 0 || !s.Stats().Down {
		t.Fatalf("no failure reported: %+v", s.Stats())
	}
	// Fail fast while backing off.
	s.Flush(ctx)
	t0 := time.Now()
	err = s.Flush(ctx)
	if !errors.Is(err, ErrDown) || reco.KindOf(err) != reco.Unavailable || time.Since(t0) > 10*time.Millisecond {
		t.Fatalf("Flush while down: %v after %v", err, time.Since(t0))
	}
	cctx, ccancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer ccancel()
	if err := s.Close(cctx); err == nil {
		t.Fatal("Close with ClickHouse down reported success")
	}
}

// TestSinkRecovers runs a sink through a proxy that is down, then up.
func TestSinkRecovers(t *testing.T) {
	target, _ := url.Parse(chURL(t))
	var up atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				c, _, _ := hj.Hijack()
				c.Close() // the connection drops, like a dying server
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	var dropped atomic.Int64
	s := newTestSink(t, Options{URL: srv.URL, BatchRecords: 50, FlushInterval: 10 * time.Millisecond,
		MaxBufferBytes: 32 << 10, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Hooks: Hooks{OnDropped: func(n int) { dropped.Add(int64(n)) }}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	for i := 0; i < 2000; i++ {
		s.Write(evRec(i), 0, int64(i))
	}
	time.Sleep(200 * time.Millisecond)
	if st := s.Stats(); !st.Down || st.Written != 0 || dropped.Load() == 0 {
		t.Fatalf("while down: %+v, dropped %d", st, dropped.Load())
	}
	kept := int64(s.Stats().BufferedRecords)
	up.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().BufferedRecords > 0 || s.Stats().Down {
		if time.Now().After(deadline) {
			t.Fatalf("did not recover: %+v", s.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	rows := mustQuery(t, s, "SELECT count(), min(log_offset), max(log_offset) FROM "+s.Database()+".events FINAL")
	// The newest records were kept: drop-oldest.
	if fmt.Sprint(rows) != fmt.Sprintf("[[%d %d 1999]]", kept, 2000-kept) || kept+dropped.Load() != 2000 {
		t.Fatalf("after recovery %v; kept %d dropped %d", rows, kept, dropped.Load())
	}
}
