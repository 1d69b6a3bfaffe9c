package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// chURL is the test server's URL (scripts/clickhouse-test-server.sh). The
// tests skip without one, unless RECO_TEST_CLICKHOUSE=1 makes it required.
func chURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("RECO_TEST_CLICKHOUSE_URL")
	if u == "" {
		if os.Getenv("RECO_TEST_CLICKHOUSE") == "1" {
			t.Fatal("RECO_TEST_CLICKHOUSE=1 but RECO_TEST_CLICKHOUSE_URL is unset: run scripts/clickhouse-test-server.sh")
		}
		t.Skip("RECO_TEST_CLICKHOUSE_URL is unset (start one with scripts/clickhouse-test-server.sh)")
	}
	return u
}

// newTestSink returns a sink on a fresh database, dropped at the end.
func newTestSink(t *testing.T, o Options) *Sink {
	t.Helper()
	if o.URL == "" {
		o.URL = chURL(t)
	}
	if o.Database == "" {
		o.Database = fmt.Sprintf("reco_test_%d_%d", time.Now().UnixNano(), rand.IntN(1e6))
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, _ := New(Options{URL: chURL(t), Database: o.Database})
		admin.exec(context.Background(), "DROP DATABASE IF EXISTS "+o.Database, nil)
	})
	return s
}

func mustQuery(t *testing.T, s *Sink, q string) [][]string {
	t.Helper()
	rows, err := s.Query(context.Background(), q)
	for try := 0; err != nil && try < 3; try++ {
		// A keep-alive connection a test proxy dropped on purpose can fail
		// the next request once; a query is safe to send again.
		time.Sleep(50 * time.Millisecond)
		rows, err = s.Query(context.Background(), q)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return rows
}
