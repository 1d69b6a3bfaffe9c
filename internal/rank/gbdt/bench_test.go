package gbdt

import (
	"context"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// randomForest builds nTrees complete trees of the given depth over nf
// features with random splits, default directions and leaves.
func randomForest(t testing.TB, nTrees, depth, nf int, seed uint64) *Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	trees := make([]tree, nTrees)
	for i := range trees {
		tr := &trees[i]
		var grow func(parent int32, d int) int32
		grow = func(parent int32, d int) int32 {
			id := tr.addNode(parent, float32(rng.NormFloat64()*0.1), 0, 0)
			tr.sumHess[id] = float32(int(1) << (depth - d))
			if d == depth {
				return id
			}
			tr.feat[id] = int32(rng.IntN(nf))
			tr.cond[id] = float32(rng.NormFloat64())
			tr.defLeft[id] = rng.IntN(2) == 0
			tr.lossChg[id] = float32(rng.Float64())
			l := grow(id, d+1)
			r := grow(id, d+1)
			tr.left[id], tr.right[id] = l, r
			return id
		}
		grow(math.MaxInt32, 0)
	}
	m, err := newModel(BinaryLogistic, 0.5, nf, nil, trees, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randomRows returns n rows of nf standard normal values, a tenth missing.
func randomRows(n, nf int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := make([]float32, n*nf)
	for i := range x {
		if rng.IntN(10) == 0 {
			x[i] = float32(math.NaN())
		} else {
			x[i] = float32(rng.NormFloat64())
		}
	}
	return x
}

// BenchmarkPredict scores a slate of 1,000 rows with 200 trees of depth 8
// on one goroutine. The goal is <= 1 ms per op.
func BenchmarkPredict(b *testing.B) {
	const rows, nf = 1000, 20
	m := randomForest(b, 200, 8, nf, 1)
	x := randomRows(rows, nf, 3)
	out := make([]float64, rows)
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		if err := m.PredictMargin(x, nf, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// syntheticBinary makes a make_classification-like problem: a noisy
// nonlinear function of half the features, with a tenth of values missing.
func syntheticBinary(rows, nf int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 3))
	d := &Dataset{X: make([]float32, rows*nf), Features: nf, Labels: make([]float32, rows)}
	for r := 0; r < rows; r++ {
		x := d.X[r*nf : (r+1)*nf]
		s := 0.0
		for f := range x {
			v := rng.NormFloat64()
			x[f] = float32(v)
			if f < nf/2 {
				s += v * float64(f%3-1) * 0.8
				if f%4 == 0 {
					s += 0.5 * v * v
				}
			}
		}
		s += rng.NormFloat64()
		for f := range x {
			if rng.IntN(10) == 0 {
				x[f] = float32(math.NaN())
			}
		}
		if s > 0.5 {
			d.Labels[r] = 1
		}
	}
	return d
}

// BenchmarkTrain trains 100 rounds of depth 6 on 200,000 x 20 rows with 2
// threads.
func BenchmarkTrain(b *testing.B) {
	d := syntheticBinary(200_000, 20, 1)
	p := DefaultParams()
	p.Rounds, p.MaxDepth, p.Threads = 100, 6, 2
	c0 := cpuTime()
	for b.Loop() {
		if _, _, err := Train(context.Background(), p, d, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the process's user+system CPU time, so that benchmarks on
// a shared machine can report CPU time per op next to wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
