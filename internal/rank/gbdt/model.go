package gbdt

import (
	"fmt"
	"math"
)

// Model is a trained ensemble of regression trees.
//
// A Model is immutable once returned by Train or Load: its methods may be
// called from many goroutines at once.
type Model struct {
	objective    Objective
	baseScore    float64 // XGBoost's base_score (a probability for binary:logistic)
	numFeature   int
	featureNames []string
	trees        []tree
	attributes   map[string]string

	base   float64 // margin every prediction starts at
	forest forest  // flattened trees for scoring
}

// tree holds one tree in XGBoost's node-array layout. Node 0 is the root; a
// node is a leaf when left[i] < 0, and then cond[i] is its value.
type tree struct {
	left, right, parent []int32
	feat                []int32
	cond                []float32
	defLeft             []bool
	baseWeight          []float32
	lossChg             []float32
	sumHess             []float32
}

func (t *tree) numNodes() int { return len(t.left) }

func (t *tree) addNode(parent int32, value, baseWeight, sumHess float32) int32 {
	id := int32(len(t.left))
	t.left = append(t.left, -1)
	t.right = append(t.right, -1)
	t.parent = append(t.parent, parent)
	t.feat = append(t.feat, 0)
	t.cond = append(t.cond, value)
	t.defLeft = append(t.defLeft, false)
	t.baseWeight = append(t.baseWeight, baseWeight)
	t.lossChg = append(t.lossChg, 0)
	t.sumHess = append(t.sumHess, sumHess)
	return id
}

// leaf returns the leaf that row x reaches.
func (t *tree) leaf(x []float32) int32 {
	i := int32(0)
	for t.left[i] >= 0 {
		v := x[t.feat[i]]
		switch {
		case v != v:
			if t.defLeft[i] {
				i = t.left[i]
			} else {
				i = t.right[i]
			}
		case v < t.cond[i]:
			i = t.left[i]
		default:
			i = t.right[i]
		}
	}
	return i
}

func (t *tree) depth() int {
	var walk func(i int32) int
	walk = func(i int32) int {
		if t.left[i] < 0 {
			return 0
		}
		return 1 + max(walk(t.left[i]), walk(t.right[i]))
	}
	return walk(0)
}

// Limits on loaded models, so that a hostile file cannot make scoring or
// explaining exhaust memory.
const (
	maxTreeDepth = 256
	maxFeatures  = 1 << 16
)

// validate checks that t is a proper binary tree over nf features.
func (t *tree) validate(nf int) error {
	n := len(t.left)
	if n == 0 {
		return fmt.Errorf("no nodes")
	}
	for _, a := range [][]int32{t.right, t.feat} {
		if len(a) != n {
			return fmt.Errorf("node arrays differ in length")
		}
	}
	if len(t.cond) != n || len(t.defLeft) != n || len(t.sumHess) != n || len(t.baseWeight) != n || len(t.lossChg) != n {
		return fmt.Errorf("node arrays differ in length")
	}
	seen := make([]bool, n)
	seen[0] = true
	depth := make([]int32, n)
	stack := []int32{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if depth[i] > maxTreeDepth {
			return fmt.Errorf("deeper than %d levels", maxTreeDepth)
		}
		c := t.cond[i]
		if math.IsNaN(float64(c)) {
			return fmt.Errorf("node %d: split condition is NaN", i)
		}
		l, r := t.left[i], t.right[i]
		if l < 0 {
			if r >= 0 {
				return fmt.Errorf("node %d: has a right child but no left child", i)
			}
			if math.IsInf(float64(c), 0) {
				return fmt.Errorf("node %d: leaf value is infinite", i)
			}
			continue
		}
		if f := t.feat[i]; f < 0 || int(f) >= nf {
			return fmt.Errorf("node %d: feature index %d not in [0, %d)", i, f, nf)
		}
		for _, c := range [2]int32{l, r} {
			if c <= 0 || int(c) >= n {
				return fmt.Errorf("node %d: child %d out of range [1, %d)", i, c, n)
			}
			if seen[c] {
				return fmt.Errorf("node %d: child %d reached twice (cycle or shared node)", i, c)
			}
			seen[c] = true
			depth[c] = depth[i] + 1
			stack = append(stack, c)
		}
	}
	return nil
}

// newModel validates the trees and builds the scoring arrays.
func newModel(obj Objective, baseScore float64, nf int, names []string, trees []tree, attrs map[string]string) (*Model, error) {
	switch obj {
	case BinaryLogistic:
		if !(baseScore > 0 && baseScore < 1) {
			return nil, fmt.Errorf("base_score %v not in (0, 1) for %s", baseScore, obj)
		}
	case RankNDCG, RegSquaredError:
		if math.IsNaN(baseScore) || math.IsInf(baseScore, 0) {
			return nil, fmt.Errorf("base_score %v is not finite", baseScore)
		}
	default:
		return nil, fmt.Errorf("objective %q is not supported", obj)
	}
	if nf < 1 || nf > maxFeatures {
		return nil, fmt.Errorf("num_feature %d not in 1..%d", nf, maxFeatures)
	}
	if names != nil && len(names) != nf {
		return nil, fmt.Errorf("%d feature names for %d features", len(names), nf)
	}
	for i := range trees {
		if err := trees[i].validate(nf); err != nil {
			return nil, fmt.Errorf("tree %d: %w", i, err)
		}
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	m := &Model{objective: obj, baseScore: baseScore, numFeature: nf, featureNames: names,
		trees: trees, attributes: attrs, base: baseMargin(obj, baseScore)}
	m.forest = flatten(trees, nf)
	return m, nil
}

// Objective returns the objective the model was trained with.
func (m *Model) Objective() Objective { return m.objective }

// BaseScore returns XGBoost's base_score: a probability for binary:logistic,
// a margin otherwise.
func (m *Model) BaseScore() float64 { return m.baseScore }

// NumFeatures returns the number of input columns the model expects.
func (m *Model) NumFeatures() int { return m.numFeature }

// FeatureNames returns the names of the input columns, or nil when the
// model has none. The caller must not modify the slice.
func (m *Model) FeatureNames() []string { return m.featureNames }

// NumTrees returns the number of trees.
func (m *Model) NumTrees() int { return len(m.trees) }

// MaxDepth returns the depth of the deepest tree (a lone leaf has depth 0).
func (m *Model) MaxDepth() int {
	d := 0
	for i := range m.trees {
		d = max(d, m.trees[i].depth())
	}
	return d
}

// Attribute returns a model attribute such as "best_iteration".
func (m *Model) Attribute(key string) (string, bool) {
	v, ok := m.attributes[key]
	return v, ok
}

// WithFeatureNames returns a copy of m that carries the given column names.
func (m *Model) WithFeatureNames(names []string) (*Model, error) {
	if len(names) != m.numFeature {
		return nil, fmt.Errorf("%d feature names for %d features", len(names), m.numFeature)
	}
	c := *m
	c.featureNames = append([]string(nil), names...)
	return &c, nil
}
