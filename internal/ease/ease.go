// Package ease is EASE (Steck 2019, "Embarrassingly Shallow Autoencoders
// for Sparse Data"): an item-item linear model with a closed form,
//
//	P = (X'X + λI)^-1,  B = I - P / diag(P)  (column-wise), diag(B) = 0,
//
// where X is the user-item matrix. A user's scores are x_u B. The inverse
// is a hand-written Cholesky factorisation and triangular inversion in
// float64, parallel over Options.Threads goroutines; it is dense, so the
// cost is about n³ multiply-adds for n items: restrict the catalog (the
// most popular few thousand items) for larger ones.
//
// It is an offline evaluation and candidate-generation model, not a
// serving component.
package ease

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Entry is one non-zero of a user's row of X.
type Entry struct {
	Item  int32
	Value float32
}

// Options configure Fit.
type Options struct {
	Lambda  float64 // L2 regularisation; 0 means 500
	Threads int     // 0 means GOMAXPROCS
}

func (o Options) withDefaults() Options {
	if o.Lambda == 0 {
		o.Lambda = 500
	}
	if o.Threads <= 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	return o
}

// Model holds B, n×n, row-major in float32.
type Model struct {
	N int
	B []float32
}

// Fit computes B for n items from the users' rows of X.
func Fit(ctx context.Context, n int, rows [][]Entry, o Options) (*Model, error) {
	o = o.withDefaults()
	if n <= 0 {
		return nil, errors.New("ease: no items")
	}
	if o.Lambda < 0 {
		return nil, fmt.Errorf("ease: lambda %v < 0", o.Lambda)
	}
	g := Gram(n, rows, o.Threads)
	for i := 0; i < n; i++ {
		g[i*n+i] += o.Lambda
	}
	p, err := InvertSPD(ctx, g, n, o.Threads)
	if err != nil {
		return nil, err
	}
	b := make([]float32, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j {
				b[i*n+j] = float32(-p[i*n+j] / p[j*n+j])
			}
		}
	}
	return &Model{N: n, B: b}, nil
}

// Score writes x B into out (len N), over the non-zeros x of one user.
func (m *Model) Score(x []Entry, out []float64) {
	clear(out[:m.N])
	for _, e := range x {
		row := m.B[int(e.Item)*m.N : (int(e.Item)+1)*m.N]
		v := float64(e.Value)
		for j, b := range row {
			out[j] += v * float64(b)
		}
	}
}

// Gram returns X'X, n×n row-major, for X given by its rows.
func Gram(n int, rows [][]Entry, threads int) []float64 {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	g := make([]float64, n*n)
	// Each worker owns a band of output rows, so no locking is needed.
	parallel(threads, n, func(lo, hi int) {
		for _, r := range rows {
			for _, a := range r {
				i := int(a.Item)
				if i < lo || i >= hi {
					continue
				}
				gi := g[i*n : (i+1)*n]
				va := float64(a.Value)
				for _, b := range r {
					gi[b.Item] += va * float64(b.Value)
				}
			}
		}
	})
	return g
}

// InvertSPD returns the inverse of the symmetric positive definite n×n
// matrix a (row-major; a is overwritten): Cholesky a = LL', W = L^-1 by
// forward substitution, a^-1 = W'W.
func InvertSPD(ctx context.Context, a []float64, n, threads int) ([]float64, error) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if err := Cholesky(ctx, a, n, threads); err != nil {
		return nil, err
	}
	// wt row j = column j of W = L^-1 (non-zero from j on).
	wt := make([]float64, n*n)
	const rhs = 32
	blocks := (n + rhs - 1) / rhs
	var next int64
	var mu sync.Mutex
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		b := int(next)
		next++
		return b
	}
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				blk := take()
				if blk >= blocks {
					return
				}
				j0, j1 := blk*rhs, min((blk+1)*rhs, n)
				// Solve L w_r = e_r for r in [j0, j1).
				for i := j0; i < n; i++ {
					li := a[i*n : i*n+i+1]
					d := li[i]
					for r := j0; r < j1; r++ {
						if i < r {
							continue
						}
						w := wt[r*n : (r+1)*n]
						s := dot(li[r:i], w[r:i])
						if i == r {
							w[i] = (1 - s) / d
						} else {
							w[i] = -s / d
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// P = W'W: P[i][j] = sum over k >= max(i,j) of W[k][i] W[k][j].
	p := a // reuse the storage
	const tile = 16
	tiles := (n + tile - 1) / tile
	parallel(threads, tiles, func(lo, hi int) {
		for ti := lo; ti < hi; ti++ {
			for tj := 0; tj <= ti; tj++ {
				for i := ti * tile; i < min((ti+1)*tile, n); i++ {
					wi := wt[i*n : (i+1)*n]
					for j := tj * tile; j < min((tj+1)*tile, n) && j <= i; j++ {
						wj := wt[j*n : (j+1)*n]
						v := dot(wi[i:], wj[i:])
						p[i*n+j] = v
						p[j*n+i] = v
					}
				}
			}
		}
	})
	return p, ctx.Err()
}

// Cholesky factors the symmetric positive definite n×n matrix a in place:
// on return its lower triangle (diagonal included) is L with a = LL'; the
// strict upper triangle is left as it was. It is blocked (right-looking)
// and parallel over rows.
func Cholesky(ctx context.Context, a []float64, n, threads int) error {
	const bs = 64
	panel := make([]float64, n*bs)
	for k0 := 0; k0 < n; k0 += bs {
		if err := ctx.Err(); err != nil {
			return err
		}
		k1 := min(k0+bs, n)
		w := k1 - k0
		// 1. The diagonal block, unblocked.
		for j := k0; j < k1; j++ {
			rj := a[j*n : (j+1)*n]
			d := rj[j] - dot(rj[k0:j], rj[k0:j])
			if d <= 0 || math.IsNaN(d) {
				return fmt.Errorf("ease: matrix not positive definite at %d", j)
			}
			d = math.Sqrt(d)
			rj[j] = d
			for i := j + 1; i < k1; i++ {
				ri := a[i*n : (i+1)*n]
				ri[j] = (ri[j] - dot(ri[k0:j], rj[k0:j])) / d
			}
		}
		if k1 == n {
			break
		}
		// 2. The panel below it: L[i, k0:k1] for i >= k1.
		parallel(threads, n-k1, func(lo, hi int) {
			for i := k1 + lo; i < k1+hi; i++ {
				ri := a[i*n : (i+1)*n]
				for j := k0; j < k1; j++ {
					rj := a[j*n : (j+1)*n]
					ri[j] = (ri[j] - dot(ri[k0:j], rj[k0:j])) / rj[j]
				}
				copy(panel[(i-k1)*bs:(i-k1)*bs+w], ri[k0:k1])
			}
		})
		// 3. The trailing lower triangle: A[i][j] -= L[i,k]·L[j,k].
		m := n - k1
		parallel(threads, m, func(lo, hi int) {
			for ii := lo; ii < hi; ii++ {
				pi := panel[ii*bs : ii*bs+w]
				row := a[(k1+ii)*n+k1 : (k1+ii)*n+k1+ii+1]
				for jj := range row {
					row[jj] -= dot(pi, panel[jj*bs:jj*bs+w])
				}
			}
		}, balancedTriangle)
	}
	return nil
}

// dot is the inner product of two equally long vectors, unrolled.
func dot(x, y []float64) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

type splitMode int

const balancedTriangle splitMode = 1

// parallel runs fn over [0, n) split into chunks on threads goroutines.
// With balancedTriangle the chunks carry equal work when row i costs i.
func parallel(threads, n int, fn func(lo, hi int), mode ...splitMode) {
	if n <= 0 {
		return
	}
	threads = max(threads, 1)
	chunks := threads * 8
	if n < 64 || threads == 1 {
		fn(0, n)
		return
	}
	bounds := make([]int, 0, chunks+1)
	bounds = append(bounds, 0)
	for c := 1; c < chunks; c++ {
		var b int
		if len(mode) > 0 && mode[0] == balancedTriangle {
			b = int(float64(n) * math.Sqrt(float64(c)/float64(chunks)))
		} else {
			b = n * c / chunks
		}
		if b > bounds[len(bounds)-1] {
			bounds = append(bounds, b)
		}
	}
	bounds = append(bounds, n)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				c := next
				next++
				mu.Unlock()
				if c >= len(bounds)-1 {
					return
				}
				fn(bounds[c], bounds[c+1])
			}
		}()
	}
	wg.Wait()
}
