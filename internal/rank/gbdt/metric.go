package gbdt

import (
	"math"
	"slices"
)

// AUC returns the area under the ROC curve of scores against 0/1 labels,
// counting ties as half. It returns NaN when either class is absent.
func AUC(labels []float32, scores []float64) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	var pos, neg, area float64
	for i := 0; i < len(idx); {
		j := i
		var p, n float64
		for ; j < len(idx) && scores[idx[j]] == scores[idx[i]]; j++ {
			if labels[idx[j]] > 0.5 {
				p++
			} else {
				n++
			}
		}
		area += p * (neg + n/2)
		pos += p
		neg += n
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return area / (pos * neg)
}

// LogLoss returns the mean binary cross-entropy of probabilities against
// 0/1 labels, clipping probabilities to [1e-15, 1-1e-15].
func LogLoss(labels []float32, probs []float64) float64 {
	s := 0.0
	for i, p := range probs {
		p = math.Min(math.Max(p, 1e-15), 1-1e-15)
		y := float64(labels[i])
		s -= y*math.Log(p) + (1-y)*math.Log(1-p)
	}
	return s / float64(len(probs))
}

// RMSE returns the root mean squared error.
func RMSE(labels []float32, preds []float64) float64 {
	s := 0.0
	for i, p := range preds {
		d := p - float64(labels[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(preds)))
}

// NDCG returns the mean NDCG@k over queries (groups are query sizes in row
// order), with gain 2^label-1. Queries whose ideal DCG is 0 count as 1, as
// in XGBoost. Ties in scores keep row order.
func NDCG(labels []float32, scores []float64, groups []int, k int) float64 {
	sum, b := 0.0, 0
	for _, size := range groups {
		e := b + size
		sum += queryNDCG(labels[b:e], scores[b:e], k)
		b = e
	}
	return sum / float64(len(groups))
}

func queryNDCG(labels []float32, scores []float64, k int) float64 {
	idcg := idealDCG(labels, k)
	if idcg == 0 {
		return 1
	}
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	dcg := 0.0
	for pos := 0; pos < len(order) && pos < k; pos++ {
		dcg += (math.Exp2(float64(labels[order[pos]])) - 1) / math.Log2(float64(pos)+2)
	}
	return dcg / idcg
}
