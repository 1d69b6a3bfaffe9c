package recommend

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/recohq/reco/internal/feature"
)

// BenchmarkOnlineRead is the feature read of one request from the embedded
// store: one user and 500 candidate products, reporting p50 and p99.
func BenchmarkOnlineRead(b *testing.B) {
	st := loadStore(b, 100000, 100000, 5)
	rng := rand.New(rand.NewPCG(5, 5))
	ids := make([]string, 500)
	out := make([]*feature.Product, 500)
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range ids {
			ids[k] = fmt.Sprintf("p%06d", rng.IntN(100000))
		}
		uid := fmt.Sprintf("u%06d", rng.IntN(100000))
		t0 := time.Now()
		st.User(uid)
		st.Products(ids, out)
		took = append(took, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-us")
}
