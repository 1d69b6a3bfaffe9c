package offline_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/recohq/reco/internal/offline"
	"github.com/recohq/reco/internal/offline/fileblob"
)

// genUserRows makes n user_features rows of users u0..u(users-1), spread
// over 30 days, in random order.
func genUserRows(n, users int, t0 int64, seed uint64) []offline.Row {
	rng := rand.New(rand.NewPCG(seed, 7))
	keys := make([]string, users)
	for i := range keys {
		keys[i] = "u" + strconv.Itoa(i)
	}
	vals := make([]offline.Value, n*8)
	rows := make([]offline.Row, n)
	span := int64(30 * day)
	for i := range rows {
		at := t0 + rng.Int64N(span)/300_000*300_000
		c := rng.Int64N(20)
		v := vals[i*8 : i*8+8 : i*8+8]
		v[0], v[1], v[2], v[3] = offline.Int(c*2), offline.Int(c), offline.Int(c/4), offline.Int(c/3)
		v[4], v[5], v[6], v[7] = offline.Float(float64(c/4)/float64(c+1)), offline.Int(c%5), offline.Int(at-299_000), offline.Int(at-1000)
		rows[i] = offline.Row{Key: keys[rng.IntN(users)], Time: at, Values: v}
	}
	return rows
}

// BenchmarkWriteRows measures offline writes to local Parquet (ZSTD): the
// figure to compare with 1M rows/s is the rows/s metric. CPU-s/1Mrows is
// the process's CPU time (every goroutine, the GC and the file write
// included) per 1M rows: unlike rows/s it does not depend on how busy a
// shared machine is, and rows/s on k free cores is at most k/CPU-s/1Mrows
// million. B/row is the size of the file written.
func BenchmarkWriteRows(b *testing.B) {
	const n = 1_000_000
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	rows := genUserRows(n, 100_000, t0, 1)
	// One day's partition, as the window writer produces.
	for i := range rows {
		rows[i].Time = t0 + rows[i].Time%day
	}
	dir := b.TempDir()
	s, err := offline.New(fileblob.New(dir), offline.Options{})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := s.WriteRows(ctx, offline.UserFeatures, fmt.Sprintf("b-%d", i), rows); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(cpu.Seconds()/(float64(n)*float64(b.N)/1e6), "CPU-s/1Mrows")
	st, err := os.Stat(filepath.Join(dir, "view="+offline.UserFeatures, "date=2025-03-01", "b-0.parquet"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/n, "B/row")
}

// BenchmarkPointInTime joins 1M entity rows against 10M feature rows
// (1M users, 30 days, one file per day) read from local Parquet.
// RECO_BENCH_PIT_ROWS scales the feature rows down for a quick run.
func BenchmarkPointInTime(b *testing.B) {
	nFeat, nEnt, users := 10_000_000, 1_000_000, 1_000_000
	if s := os.Getenv("RECO_BENCH_PIT_ROWS"); s != "" {
		nFeat, _ = strconv.Atoi(s)
		nEnt, users = nFeat/10, nFeat/10
	}
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	s := newStore(b)
	start := time.Now()
	const chunk = 1_000_000
	for i := 0; i < nFeat; i += chunk {
		rows := genUserRows(min(chunk, nFeat-i), users, t0, uint64(i+1))
		if err := s.WriteRows(ctx, offline.UserFeatures, fmt.Sprintf("c-%03d", i/chunk), rows); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("wrote %d feature rows in %s", nFeat, time.Since(start).Round(time.Millisecond))
	rng := rand.New(rand.NewPCG(9, 9))
	ents := make([]offline.EntityRow, nEnt)
	for i := range ents {
		ents[i] = offline.EntityRow{Key: "u" + strconv.Itoa(rng.IntN(users)), Time: t0 + 5*day + rng.Int64N(30*day)}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.PointInTime(ctx, offline.UserFeatures, []string{"clicks", "purchase_rate", "last_event_time"}, ents)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			m := 0
			for _, ok := range res.Matched {
				if ok {
					m++
				}
			}
			b.Logf("%d of %d entity rows matched", m, nEnt)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/join")
}
