package ease

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// The expected B was computed with numpy 1.24 (np.linalg.inv) for this X and
// lambda 2:
//
//	G = X.T@X + 2*I; P = inv(G); B = -P/diag(P); fill_diagonal(B, 0)
func TestFitMatchesNumpy(t *testing.T) {
	x := [][]float32{{1, 1, 0, 0}, {0, 1, 1, 0}, {1, 0, 1, 1}, {0, 0, 1, 1}, {1, 1, 1, 0}}
	want := []float64{
		0.0, 0.3255813953488373, 0.17721518987341775, 0.13725490196078433,
		0.3333333333333333, 0.0, 0.3291139240506329, -0.19607843137254902,
		0.1666666666666667, 0.3023255813953488, 0.0, 0.3529411764705882,
		0.16666666666666666, -0.23255813953488372, 0.45569620253164556, 0.0,
	}
	wantScore := []float64{0.3333333333333333, 0.3255813953488373, 0.5063291139240507, -0.05882352941176469}
	rows := sparse(x)
	for _, threads := range []int{1, 2} {
		m, err := Fit(context.Background(), 4, rows, Options{Lambda: 2, Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			if math.Abs(float64(m.B[i])-w) > 1e-6 {
				t.Fatalf("threads %d: B[%d][%d] = %v, want %v", threads, i/4, i%4, m.B[i], w)
			}
		}
		out := make([]float64, 4)
		m.Score(rows[0], out)
		for i, w := range wantScore {
			if math.Abs(out[i]-w) > 1e-6 {
				t.Fatalf("score[%d] = %v, want %v", i, out[i], w)
			}
		}
	}
}

func sparse(x [][]float32) [][]Entry {
	var rows [][]Entry
	for _, r := range x {
		var e []Entry
		for j, v := range r {
			if v != 0 {
				e = append(e, Entry{int32(j), v})
			}
		}
		rows = append(rows, e)
	}
	return rows
}

// A matrix larger than the block sizes: A·A^-1 must be the identity.
func TestInvertSPDBlocked(t *testing.T) {
	const n = 150
	rng := rand.New(rand.NewPCG(1, 2))
	var rows [][]Entry
	for u := 0; u < 400; u++ {
		var r []Entry
		for j := 0; j < n; j++ {
			if rng.Float64() < 0.1 {
				r = append(r, Entry{int32(j), float32(1 + rng.IntN(3))})
			}
		}
		rows = append(rows, r)
	}
	g := Gram(n, rows, 2)
	for i := 0; i < n; i++ {
		g[i*n+i] += 3
	}
	orig := append([]float64(nil), g...)
	p, err := InvertSPD(context.Background(), g, n, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for k := 0; k < n; k++ {
				s += orig[i*n+k] * p[k*n+j]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-9 {
				t.Fatalf("(A A^-1)[%d][%d] = %v", i, j, s)
			}
		}
	}
}

func TestNotPositiveDefinite(t *testing.T) {
	a := []float64{1, 2, 2, 1}
	if _, err := InvertSPD(context.Background(), a, 2, 1); err == nil {
		t.Fatal("no error for an indefinite matrix")
	}
}

func BenchmarkInvert1000(b *testing.B) {
	const n = 1000
	rng := rand.New(rand.NewPCG(1, 2))
	var rows [][]Entry
	for u := 0; u < 3000; u++ {
		var r []Entry
		for j := 0; j < n; j++ {
			if rng.Float64() < 0.02 {
				r = append(r, Entry{int32(j), 1})
			}
		}
		rows = append(rows, r)
	}
	g := Gram(n, rows, 2)
	for i := 0; i < n; i++ {
		g[i*n+i] += 10
	}
	for b.Loop() {
		a := append([]float64(nil), g...)
		if _, err := InvertSPD(context.Background(), a, n, 2); err != nil {
			b.Fatal(err)
		}
	}
}
