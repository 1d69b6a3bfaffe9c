package gbdt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// The JSON layout of an XGBoost 1.7 model, as save_model("m.json") writes it.
type xgbModel struct {
	Learner *xgbLearner `json:"learner"`
	Version []int       `json:"version"`
}

type xgbLearner struct {
	Attributes        map[string]string `json:"attributes"`
	FeatureNames      []string          `json:"feature_names"`
	FeatureTypes      []string          `json:"feature_types"`
	GradientBooster   *xgbBooster       `json:"gradient_booster"`
	LearnerModelParam *xgbLearnerParam  `json:"learner_model_param"`
	Objective         *xgbObjective     `json:"objective"`
}

type xgbLearnerParam struct {
	BaseScore        string `json:"base_score"`
	BoostFromAverage string `json:"boost_from_average"`
	NumClass         string `json:"num_class"`
	NumFeature       string `json:"num_feature"`
	NumTarget        string `json:"num_target"`
}

type xgbObjective struct {
	Name            string            `json:"name"`
	RegLossParam    map[string]string `json:"reg_loss_param,omitempty"`
	LambdaRankParam map[string]string `json:"lambda_rank_param,omitempty"`
}

type xgbBooster struct {
	Name  string     `json:"name"`
	Model *xgbGBTree `json:"model,omitempty"`
}

type xgbGBTree struct {
	Param    map[string]string `json:"gbtree_model_param"`
	TreeInfo []int             `json:"tree_info"`
	Trees    []xgbTree         `json:"trees"`
}

type xgbTree struct {
	BaseWeights        floats            `json:"base_weights"`
	Categories         []int32           `json:"categories"`
	CategoriesNodes    []int32           `json:"categories_nodes"`
	CategoriesSegments []int64           `json:"categories_segments"`
	CategoriesSizes    []int64           `json:"categories_sizes"`
	DefaultLeft        []flexBool        `json:"default_left"`
	ID                 int               `json:"id"`
	LeftChildren       []int32           `json:"left_children"`
	LossChanges        floats            `json:"loss_changes"`
	Parents            []int32           `json:"parents"`
	RightChildren      []int32           `json:"right_children"`
	SplitConditions    floats            `json:"split_conditions"`
	SplitIndices       []int32           `json:"split_indices"`
	SplitType          []int32           `json:"split_type"`
	SumHessian         floats            `json:"sum_hessian"`
	TreeParam          map[string]string `json:"tree_param"`
}

// floats is a float32 array that always writes a decimal point or an
// exponent: XGBoost's JSON reader takes "0" for an integer and refuses it
// where it wants a number.
type floats []float32

func (a floats) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(a)*12)
	b = append(b, '[')
	for i, v := range a {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("value %v cannot be written to JSON", v)
		}
		start := len(b)
		b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
		if !bytes.ContainsAny(b[start:], ".e") {
			b = append(b, ".0"...)
		}
	}
	return append(b, ']'), nil
}

// flexBool reads 0/1 or false/true.
type flexBool bool

func (b *flexBool) UnmarshalJSON(p []byte) error {
	switch string(p) {
	case "0", "false":
		*b = false
	case "1", "true":
		*b = true
	default:
		return fmt.Errorf("default_left value %s is not 0 or 1", p)
	}
	return nil
}

func (b flexBool) MarshalJSON() ([]byte, error) {
	if b {
		return []byte("1"), nil
	}
	return []byte("0"), nil
}

// maxModelBytes bounds what Load reads.
const maxModelBytes = 1 << 30

// LoadFile reads an XGBoost JSON model file.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	defer f.Close()
	m, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}

// Load reads a model in XGBoost's JSON format (XGBoost 1.x, gbtree booster,
// one output, numerical splits). It checks the trees and returns an error,
// never panics, on anything malformed.
func Load(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxModelBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxModelBytes {
		return nil, fmt.Errorf("model larger than %d bytes", maxModelBytes)
	}
	var xm xgbModel
	if err := json.Unmarshal(data, &xm); err != nil {
		return nil, fmt.Errorf("decode json: %w", err)
	}
	return fromXGB(&xm)
}

func fromXGB(xm *xgbModel) (*Model, error) {
	l := xm.Learner
	if l == nil {
		return nil, errors.New("no learner")
	}
	if l.Objective == nil || l.LearnerModelParam == nil || l.GradientBooster == nil {
		return nil, errors.New("learner lacks objective, learner_model_param or gradient_booster")
	}
	obj := Objective(l.Objective.Name)
	switch obj {
	case BinaryLogistic, RankNDCG, RegSquaredError:
	case "rank:pairwise", "rank:map", "reg:linear":
		// Same margin semantics as their siblings.
		if obj == "reg:linear" {
			obj = RegSquaredError
		} else {
			obj = RankNDCG
		}
	default:
		return nil, fmt.Errorf("objective %q is not supported", l.Objective.Name)
	}
	lp := l.LearnerModelParam
	base, err := strconv.ParseFloat(lp.BaseScore, 64)
	if err != nil {
		return nil, fmt.Errorf("base_score %q: %w", lp.BaseScore, err)
	}
	// XGBoost keeps base_score as a float32.
	base = float64(float32(base))
	nf, err := strconv.Atoi(lp.NumFeature)
	if err != nil {
		return nil, fmt.Errorf("num_feature %q: %w", lp.NumFeature, err)
	}
	if nc := lp.NumClass; nc != "" && nc != "0" && nc != "1" {
		return nil, fmt.Errorf("num_class %s: multi-class models are not supported", nc)
	}
	if nt := lp.NumTarget; nt != "" && nt != "1" {
		return nil, fmt.Errorf("num_target %s: multi-target models are not supported", nt)
	}
	gb := l.GradientBooster
	if gb.Name != "gbtree" {
		return nil, fmt.Errorf("booster %q is not supported (want gbtree)", gb.Name)
	}
	if gb.Model == nil {
		return nil, errors.New("gbtree has no model")
	}
	trees := make([]tree, len(gb.Model.Trees))
	for i := range gb.Model.Trees {
		t, err := treeFromXGB(&gb.Model.Trees[i])
		if err != nil {
			return nil, fmt.Errorf("tree %d: %w", i, err)
		}
		trees[i] = t
	}
	for i, g := range gb.Model.TreeInfo {
		if g != 0 {
			return nil, fmt.Errorf("tree_info[%d] = %d: multi-output models are not supported", i, g)
		}
	}
	var names []string
	if len(l.FeatureNames) > 0 {
		names = l.FeatureNames
	}
	m, err := newModel(obj, base, nf, names, trees, l.Attributes)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func treeFromXGB(x *xgbTree) (tree, error) {
	n := len(x.LeftChildren)
	if v, ok := x.TreeParam["num_nodes"]; ok {
		nn, err := strconv.Atoi(v)
		if err != nil || nn != n {
			return tree{}, fmt.Errorf("num_nodes %q does not match %d nodes", v, n)
		}
	}
	if len(x.RightChildren) != n || len(x.SplitIndices) != n || len(x.SplitConditions) != n || len(x.DefaultLeft) != n {
		return tree{}, fmt.Errorf("node arrays differ in length (%d left_children, %d right_children, %d split_indices, %d split_conditions, %d default_left)",
			n, len(x.RightChildren), len(x.SplitIndices), len(x.SplitConditions), len(x.DefaultLeft))
	}
	for i, st := range x.SplitType {
		if st != 0 {
			return tree{}, fmt.Errorf("node %d: categorical splits are not supported", i)
		}
	}
	opt := func(a []float32) []float32 {
		if len(a) == n {
			return a
		}
		return make([]float32, n)
	}
	t := tree{
		left: x.LeftChildren, right: x.RightChildren, feat: x.SplitIndices, cond: x.SplitConditions,
		defLeft: make([]bool, n), baseWeight: opt(x.BaseWeights), lossChg: opt(x.LossChanges), sumHess: opt(x.SumHessian),
		parent: make([]int32, n),
	}
	for i, b := range x.DefaultLeft {
		t.defLeft[i] = bool(b)
	}
	for i := range t.parent {
		t.parent[i] = math.MaxInt32
	}
	for i := 0; i < n; i++ {
		if l := t.left[i]; l >= 0 && int(l) < n {
			t.parent[l] = int32(i)
		}
		if r := t.right[i]; r >= 0 && int(r) < n {
			t.parent[r] = int32(i)
		}
	}
	return t, nil
}

// SaveFile writes the model to path in XGBoost's JSON format.
func (m *Model) SaveFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	if err := m.Save(f); err != nil {
		f.Close()
		return fmt.Errorf("save model %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	return nil
}

// Save writes the model in XGBoost 1.7's JSON format, which
// xgboost.Booster(model_file=...) loads and predicts identically.
func (m *Model) Save(w io.Writer) error {
	xm := m.toXGB()
	enc := json.NewEncoder(w)
	if err := enc.Encode(xm); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}

func (m *Model) toXGB() *xgbModel {
	nf := strconv.Itoa(m.numFeature)
	obj := &xgbObjective{Name: string(m.objective)}
	if m.objective == RankNDCG {
		obj.LambdaRankParam = map[string]string{"fix_list_weight": "0", "num_pairsample": "1"}
	} else {
		obj.RegLossParam = map[string]string{"scale_pos_weight": "1"}
	}
	names := []string{}
	types := []string{}
	if m.featureNames != nil {
		names = m.featureNames
		for range names {
			types = append(types, "float")
		}
	}
	gbt := &xgbGBTree{
		Param:    map[string]string{"num_parallel_tree": "1", "num_trees": strconv.Itoa(len(m.trees)), "size_leaf_vector": "0"},
		TreeInfo: make([]int, len(m.trees)),
		Trees:    make([]xgbTree, len(m.trees)),
	}
	for i := range m.trees {
		// XGBoost's predictor assumes right child = left child + 1.
		bt := m.trees[i].bfs()
		t := &bt
		n := t.numNodes()
		xt := xgbTree{
			BaseWeights: t.baseWeight, Categories: []int32{}, CategoriesNodes: []int32{},
			CategoriesSegments: []int64{}, CategoriesSizes: []int64{},
			DefaultLeft: make([]flexBool, n), ID: i, LeftChildren: t.left, LossChanges: t.lossChg,
			Parents: make([]int32, n), RightChildren: t.right, SplitConditions: t.cond,
			SplitIndices: make([]int32, n), SplitType: make([]int32, n), SumHessian: t.sumHess,
			TreeParam: map[string]string{"num_deleted": "0", "num_feature": nf, "num_nodes": strconv.Itoa(n), "size_leaf_vector": "0"},
		}
		for j := 0; j < n; j++ {
			xt.Parents[j] = math.MaxInt32
			if t.left[j] >= 0 {
				xt.DefaultLeft[j] = flexBool(t.defLeft[j])
				xt.SplitIndices[j] = t.feat[j]
			}
		}
		for j := 0; j < n; j++ {
			if t.left[j] >= 0 {
				xt.Parents[t.left[j]] = int32(j)
				xt.Parents[t.right[j]] = int32(j)
			}
		}
		gbt.Trees[i] = xt
	}
	attrs := m.attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	return &xgbModel{
		Learner: &xgbLearner{
			Attributes:      attrs,
			FeatureNames:    names,
			FeatureTypes:    types,
			GradientBooster: &xgbBooster{Name: "gbtree", Model: gbt},
			LearnerModelParam: &xgbLearnerParam{
				BaseScore:        strconv.FormatFloat(m.baseScore, 'E', -1, 32),
				BoostFromAverage: "1", NumClass: "0", NumFeature: nf, NumTarget: "1",
			},
			Objective: obj,
		},
		Version: []int{1, 7, 4},
	}
}

// bfs returns t renumbered breadth first, so that every right child directly
// follows its left sibling, as XGBoost's predictor assumes. Unreachable
// nodes are dropped.
func (t *tree) bfs() tree {
	var out tree
	out.addNode(math.MaxInt32, 0, 0, 0)
	type item struct{ src, dst int32 }
	queue := []item{{0, 0}}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		s, d := q.src, q.dst
		out.cond[d], out.baseWeight[d], out.sumHess[d], out.lossChg[d] = t.cond[s], t.baseWeight[s], t.sumHess[s], t.lossChg[s]
		if t.left[s] < 0 {
			continue
		}
		out.feat[d], out.defLeft[d] = t.feat[s], t.defLeft[s]
		l := out.addNode(d, 0, 0, 0)
		r := out.addNode(d, 0, 0, 0)
		out.left[d], out.right[d] = l, r
		queue = append(queue, item{t.left[s], l}, item{t.right[s], r})
	}
	return out
}
