package gbdt

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Contributions explains the margin of one row with TreeSHAP, the exact
// algorithm XGBoost runs for pred_contribs=True. It returns NumFeatures+1
// values: one per feature, then the bias (the expected margin). They sum to
// PredictMargin of the row. Node covers come from the trees' hessian sums.
func (m *Model) Contributions(row []float32) ([]float64, error) {
	if len(row) != m.numFeature {
		return nil, fmt.Errorf("contributions: %d features, model wants %d", len(row), m.numFeature)
	}
	phi := make([]float64, m.numFeature+1)
	phi[m.numFeature] = m.base
	maxd := 0
	for i := range m.trees {
		maxd = max(maxd, m.trees[i].depth())
	}
	maxd += 2
	path := make([]pathElem, maxd*(maxd+1)/2)
	for i := range m.trees {
		t := &m.trees[i]
		phi[m.numFeature] += t.meanValue(0)
		t.treeSHAP(row, phi, 0, 0, path, 1, 1, -1)
	}
	return phi, nil
}

// Contribution is one feature's share of a score.
type Contribution struct {
	Feature int     // column index
	Name    string  // feature name, or "f<index>" when the model has none
	Value   float64 // SHAP value in margin units
}

// TopContributions returns the k features with the largest |contribution|
// to the row's margin, largest first. The bias is not included.
func (m *Model) TopContributions(row []float32, k int) ([]Contribution, error) {
	phi, err := m.Contributions(row)
	if err != nil {
		return nil, err
	}
	out := make([]Contribution, m.numFeature)
	for f := range out {
		out[f] = Contribution{Feature: f, Name: m.featureName(f), Value: phi[f]}
	}
	slices.SortStableFunc(out, func(a, b Contribution) int {
		return cmp.Compare(math.Abs(b.Value), math.Abs(a.Value))
	})
	return out[:min(k, len(out))], nil
}

func (m *Model) featureName(f int) string {
	if m.featureNames != nil {
		return m.featureNames[f]
	}
	return "f" + strconv.Itoa(f)
}

// meanValue is the cover-weighted mean leaf value under node i.
func (t *tree) meanValue(i int32) float64 {
	if t.left[i] < 0 {
		return float64(t.cond[i])
	}
	l, r := t.left[i], t.right[i]
	v := t.meanValue(l)*float64(t.sumHess[l]) + t.meanValue(r)*float64(t.sumHess[r])
	return v / float64(t.sumHess[i])
}

type pathElem struct {
	feature           int
	zeroFrac, oneFrac float64
	pweight           float64
}

func extendPath(p []pathElem, depth int, zero, one float64, feature int) {
	p[depth] = pathElem{feature: feature, zeroFrac: zero, oneFrac: one}
	if depth == 0 {
		p[depth].pweight = 1
	}
	for i := depth - 1; i >= 0; i-- {
		p[i+1].pweight += one * p[i].pweight * float64(i+1) / float64(depth+1)
		p[i].pweight = zero * p[i].pweight * float64(depth-i) / float64(depth+1)
	}
}

func unwindPath(p []pathElem, depth, idx int) {
	one, zero := p[idx].oneFrac, p[idx].zeroFrac
	next := p[depth].pweight
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := p[i].pweight
			p[i].pweight = next * float64(depth+1) / (float64(i+1) * one)
			next = tmp - p[i].pweight*zero*float64(depth-i)/float64(depth+1)
		} else {
			p[i].pweight = p[i].pweight * float64(depth+1) / (zero * float64(depth-i))
		}
	}
	for i := idx; i < depth; i++ {
		p[i].feature, p[i].zeroFrac, p[i].oneFrac = p[i+1].feature, p[i+1].zeroFrac, p[i+1].oneFrac
	}
}

func unwoundPathSum(p []pathElem, depth, idx int) float64 {
	one, zero := p[idx].oneFrac, p[idx].zeroFrac
	next := p[depth].pweight
	total := 0.0
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := next * float64(depth+1) / (float64(i+1) * one)
			total += tmp
			next = p[i].pweight - tmp*zero*(float64(depth-i)/float64(depth+1))
		} else if zero != 0 {
			total += (p[i].pweight / zero) / (float64(depth-i) / float64(depth+1))
		}
	}
	return total
}

// treeSHAP is XGBoost's RegTree::TreeShap (Lundberg et al., algorithm 2).
// parent holds the caller's path; this call's path starts after it.
func (t *tree) treeSHAP(x []float32, phi []float64, node int32, depth int, parent []pathElem, zero, one float64, feature int) {
	path := parent[depth+1:]
	copy(path, parent[:depth+1])
	extendPath(path, depth, zero, one, feature)
	if t.left[node] < 0 {
		leaf := float64(t.cond[node])
		for i := 1; i <= depth; i++ {
			w := unwoundPathSum(path, depth, i)
			el := path[i]
			phi[el.feature] += w * (el.oneFrac - el.zeroFrac) * leaf
		}
		return
	}
	f := int(t.feat[node])
	v := x[f]
	var hot int32
	switch {
	case v != v:
		if t.defLeft[node] {
			hot = t.left[node]
		} else {
			hot = t.right[node]
		}
	case v < t.cond[node]:
		hot = t.left[node]
	default:
		hot = t.right[node]
	}
	cold := t.left[node]
	if hot == cold {
		cold = t.right[node]
	}
	w := float64(t.sumHess[node])
	hotZero := float64(t.sumHess[hot]) / w
	coldZero := float64(t.sumHess[cold]) / w
	inZero, inOne := 1.0, 1.0
	idx := 0
	for ; idx <= depth; idx++ {
		if path[idx].feature == f {
			break
		}
	}
	if idx != depth+1 {
		inZero, inOne = path[idx].zeroFrac, path[idx].oneFrac
		unwindPath(path, depth, idx)
		depth--
	}
	t.treeSHAP(x, phi, hot, depth+1, path, hotZero*inZero, inOne, f)
	t.treeSHAP(x, phi, cold, depth+1, path, coldZero*inZero, 0, f)
}

// FeatureImportance sums a feature's splits over all trees, like XGBoost's
// get_score: Gain and Cover are averages per split, Total* the sums.
type FeatureImportance struct {
	Feature    int
	Name       string
	Splits     int     // "weight": number of splits on the feature
	TotalGain  float64 // "total_gain": sum of loss changes
	Gain       float64 // "gain": TotalGain / Splits
	TotalCover float64 // "total_cover": sum of hessian sums at the split nodes
	Cover      float64 // "cover": TotalCover / Splits
}

// Importance returns one entry per feature, in column order.
func (m *Model) Importance() []FeatureImportance {
	out := make([]FeatureImportance, m.numFeature)
	for f := range out {
		out[f] = FeatureImportance{Feature: f, Name: m.featureName(f)}
	}
	for i := range m.trees {
		t := &m.trees[i]
		for j := range t.left {
			if t.left[j] < 0 {
				continue
			}
			fi := &out[t.feat[j]]
			fi.Splits++
			fi.TotalGain += float64(t.lossChg[j])
			fi.TotalCover += float64(t.sumHess[j])
		}
	}
	for f := range out {
		if n := out[f].Splits; n > 0 {
			out[f].Gain = out[f].TotalGain / float64(n)
			out[f].Cover = out[f].TotalCover / float64(n)
		}
	}
	return out
}
