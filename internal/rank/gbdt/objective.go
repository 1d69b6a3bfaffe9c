package gbdt

import (
	"math"
	"slices"
)

// gpair is one row's gradient and hessian, in float32 as in XGBoost.
type gpair struct{ g, h float32 }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// baseMargin turns a base_score into the margin every prediction starts at.
func baseMargin(obj Objective, baseScore float64) float64 {
	if obj == BinaryLogistic {
		return -math.Log(1/baseScore - 1)
	}
	return baseScore
}

// gradients fills gh for the objective at the current margins.
func gradients(p *Params, d *Dataset, groupStart []int, margin []float64, gh []gpair) {
	switch p.Objective {
	case BinaryLogistic:
		parallelBlocks(len(margin), p.Threads, 8192, func(b, e int) {
			for i := b; i < e; i++ {
				pr := sigmoid(margin[i])
				h := pr * (1 - pr)
				if h < 1e-16 {
					h = 1e-16
				}
				gh[i] = gpair{float32(pr - float64(d.Labels[i])), float32(h)}
			}
		})
	case RegSquaredError:
		parallelBlocks(len(margin), p.Threads, 8192, func(b, e int) {
			for i := b; i < e; i++ {
				gh[i] = gpair{float32(margin[i] - float64(d.Labels[i])), 1}
			}
		})
	case RankNDCG:
		parallelFor(len(groupStart)-1, p.Threads, func(q int) {
			b, e := groupStart[q], groupStart[q+1]
			lambdaNDCG(d.Labels[b:e], margin[b:e], gh[b:e], p.NDCGAt)
		})
	}
}

// lambdaNDCG computes LambdaMART gradients for one query: every pair of
// items with different labels where at least one sits in the top k of the
// current ranking pulls with weight |ΔNDCG|, the NDCG change of swapping them.
func lambdaNDCG(labels []float32, margin []float64, gh []gpair, k int) {
	n := len(labels)
	g := make([]float64, n)
	h := make([]float64, n)
	defer func() {
		for i := range gh {
			gh[i] = gpair{float32(g[i]), float32(h[i])}
		}
	}()
	idcg := idealDCG(labels, k)
	if idcg == 0 {
		return
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case margin[a] > margin[b]:
			return -1
		case margin[a] < margin[b]:
			return 1
		}
		return 0
	})
	disc := make([]float64, n)
	gain := make([]float64, n)
	for pos, i := range order {
		disc[pos] = 1 / math.Log2(float64(pos)+2)
		gain[pos] = math.Exp2(float64(labels[i])) - 1
	}
	for pi := 0; pi < n && pi < k; pi++ {
		i := order[pi]
		for pj := pi + 1; pj < n; pj++ {
			j := order[pj]
			if labels[i] == labels[j] {
				continue
			}
			hi, lo, phi, plo := i, j, pi, pj
			if labels[i] < labels[j] {
				hi, lo, phi, plo = j, i, pj, pi
			}
			delta := math.Abs((gain[phi]-gain[plo])*(disc[phi]-disc[plo])) / idcg
			rho := sigmoid(-(margin[hi] - margin[lo]))
			lambda := rho * delta
			hess := rho * (1 - rho) * delta
			g[hi] -= lambda
			g[lo] += lambda
			h[hi] += hess
			h[lo] += hess
		}
	}
}

func idealDCG(labels []float32, k int) float64 {
	s := slices.Clone(labels)
	slices.SortFunc(s, func(a, b float32) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	dcg := 0.0
	for i := 0; i < len(s) && i < k; i++ {
		dcg += (math.Exp2(float64(s[i])) - 1) / math.Log2(float64(i)+2)
	}
	return dcg
}
