package gbdt

import (
	"fmt"
	"math"
	"sync"
)

// maxPadDepth is the deepest tree scored through the padded layout; deeper
// trees use the general node arrays.
const maxPadDepth = 10

// forest is the scoring form of a model's trees, in contiguous arrays.
//
// Every node reads its value from a per-row buffer of 2*nf slots: the row
// with NaN replaced by -Inf, then the row with NaN replaced by +Inf, each
// value stored as key(v). A node whose missing values go left reads the
// first copy, one whose missing values go right the second, and then
// "key(x) >= key(threshold)" alone decides "go right", missing values
// included. This is XGBoost's rule: left when x < threshold, NaN to the
// default side. (A -Inf threshold with default left is the one split this
// cannot express; such a tree uses the general layout.)
//
// Trees up to maxPadDepth deep are padded to complete binary trees in heap
// order (children of i at 2i+1 and 2i+2) with a leaf above the bottom
// copied into both subtrees, so scoring walks exactly depth levels with no
// branches. pnodes and pleaves keep padNodes spare entries after the last
// tree, so every tree can be viewed as a [padNodes] array. Deeper trees use
// struct-of-arrays node lists.
type forest struct {
	nf int

	// Padded trees.
	pad     []padTree
	pnodes  []pnode
	pleaves []float32

	// General trees, struct of arrays over all of them: for node i,
	// feature slot gfeat[i] (-1 for a leaf), threshold or leaf value
	// gthr[i], children gleft[i] and gleft[i]+1.
	gen   []int32 // root of each general tree
	gfeat []int32
	gthr  []uint32 // key(threshold), or the bits of the leaf value
	gleft []int32
}

type padTree struct {
	nodes, leaves int32 // offsets into pnodes and pleaves
	depth         int32
}

type pnode struct {
	slot uint32 // offset of the value in a row group: buffer slot * groupRows
	thr  uint32 // go right when key(x) >= thr, thr = key(threshold)
}

// key maps a float32 that is not NaN to a uint32 with the same order, -0
// and +0 alike, so that tree walks compare integers: the chain from a node
// to its child is shorter than with float compares.
func key(v float32) uint32 {
	if v == 0 {
		v = 0 // -0 → +0
	}
	u := math.Float32bits(v)
	if u&(1<<31) != 0 {
		return ^u
	}
	return u | 1<<31
}

func flatten(trees []tree, nf int) forest {
	f := forest{nf: nf}
	for i := range trees {
		t := &trees[i]
		d := t.depth()
		if d <= maxPadDepth && nf <= maxPadFeat && paddable(t) {
			f.addPadded(t, d)
		} else {
			f.addGeneral(t)
		}
	}
	return f
}

// paddable reports whether every split is expressible as "x >= thr" on the
// buffer: only a -Inf threshold with missing going left is not.
func paddable(t *tree) bool {
	for i := range t.left {
		if t.left[i] >= 0 && t.defLeft[i] && math.IsInf(float64(t.cond[i]), -1) {
			return false
		}
	}
	return true
}

// slot is the buffer offset of node i's value within a row group.
func (t *tree) slot(i int32, nf int) uint32 {
	s := uint32(t.feat[i])
	if !t.defLeft[i] {
		s += uint32(nf)
	}
	return s * groupRows
}

func (f *forest) addPadded(t *tree, d int) {
	inner := 1<<d - 1
	pt := padTree{nodes: int32(max(0, len(f.pnodes)-padNodes)), leaves: int32(max(0, len(f.pleaves)-padNodes)), depth: int32(d)}
	nodes := make([]pnode, inner)
	leaves := make([]float32, 1<<d)
	var fill func(pi int, ni int32, level int)
	fill = func(pi int, ni int32, level int) {
		if level == d {
			leaves[pi-inner] = t.cond[ni]
			return
		}
		if t.left[ni] < 0 {
			fill(2*pi+1, ni, level+1)
			fill(2*pi+2, ni, level+1)
			return
		}
		nodes[pi] = pnode{slot: t.slot(ni, f.nf), thr: key(t.cond[ni])}
		fill(2*pi+1, t.left[ni], level+1)
		fill(2*pi+2, t.right[ni], level+1)
	}
	fill(0, 0, 0)
	// Keep padNodes entries after every tree's start, for the array views.
	f.pnodes = append(f.pnodes[:pt.nodes], nodes...)
	f.pnodes = append(f.pnodes, make([]pnode, padNodes)...)
	f.pleaves = append(f.pleaves[:pt.leaves], leaves...)
	f.pleaves = append(f.pleaves, make([]float32, padNodes)...)
	f.pad = append(f.pad, pt)
}

func (f *forest) addGeneral(t *tree) {
	base := int32(len(f.gfeat))
	f.gen = append(f.gen, base)
	// Lay out breadth first so that siblings are adjacent.
	f.gfeat = append(f.gfeat, 0)
	f.gthr = append(f.gthr, 0)
	f.gleft = append(f.gleft, 0)
	queue := []struct{ src, dst int32 }{{0, base}}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		if t.left[q.src] < 0 {
			f.gfeat[q.dst], f.gthr[q.dst], f.gleft[q.dst] = -1, math.Float32bits(t.cond[q.src]), -1
			continue
		}
		l := int32(len(f.gfeat))
		f.gfeat = append(f.gfeat, 0, 0)
		f.gthr = append(f.gthr, 0, 0)
		f.gleft = append(f.gleft, 0, 0)
		f.gfeat[q.dst], f.gthr[q.dst], f.gleft[q.dst] = int32(t.slot(q.src, f.nf)), key(t.cond[q.src]), l
		queue = append(queue, struct{ src, dst int32 }{t.left[q.src], l}, struct{ src, dst int32 }{t.right[q.src], l + 1})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// PredictMargin writes the raw score (before the sigmoid of
// binary:logistic) of each row of x to out. x is row-major with nFeatures
// columns, NaN meaning missing; nFeatures must equal NumFeatures and out
// must have one element per row. Like XGBoost, it sums the trees in float32
// in tree order, so scores match XGBoost's to the last bit or two.
func (m *Model) PredictMargin(x []float32, nFeatures int, out []float64) error {
	if nFeatures != m.numFeature {
		return fmt.Errorf("predict: %d features, model wants %d", nFeatures, m.numFeature)
	}
	if nFeatures == 0 || len(x)%nFeatures != 0 || len(x)/nFeatures != len(out) {
		return fmt.Errorf("predict: %d values and %d outputs do not fit %d features", len(x), len(out), nFeatures)
	}
	m.forest.predict(x, out, m.base)
	return nil
}

// Predict is PredictMargin followed by the objective's transform: the
// sigmoid for binary:logistic, none for the others.
func (m *Model) Predict(x []float32, nFeatures int, out []float64) error {
	if err := m.PredictMargin(x, nFeatures, out); err != nil {
		return err
	}
	if m.objective == BinaryLogistic {
		for i, v := range out {
			out[i] = sigmoid(v)
		}
	}
	return nil
}

const (
	groupRows  = 8                // rows walked through a tree together
	blockRows  = 8 * groupRows    // rows scored tree by tree
	padNodes   = 1 << maxPadDepth // node and leaf index mask + 1 of a padded tree
	xSpan      = 1 << 15          // index mask + 1 of a row group's buffer
	maxPadFeat = xSpan / (2 * groupRows)
)

// scratch is per-call scoring memory.
type scratch struct {
	buf []uint32
	acc [blockRows]float32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// predict scores blocks of rows tree by tree.
//
// For the padded trees, a block holds groups of groupRows rows, each group
// feature-major: value k of slot s at s*groupRows+k. Trees and groups are
// viewed as fixed-size arrays indexed under a mask, so the hot loop has no
// bounds checks; the masks never bind because indexes stay in range.
func (f *forest) predict(x []float32, out []float64, base float64) {
	nf := f.nf
	w := 2 * nf
	gstride := w * groupRows
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	// Wide rows get fewer groups per block, to bound the scratch memory.
	groups := max(1, min(blockRows/groupRows, (1<<16)/gstride))
	need := gstride*groups + xSpan
	if cap(sc.buf) < need {
		sc.buf = make([]uint32, need)
	}
	buf := sc.buf[:need]
	ninf, pinf := key(float32(math.Inf(-1))), key(float32(math.Inf(1)))
	rows := len(out)
	for b := 0; b < rows; b += groups * groupRows {
		n := min(groups*groupRows, rows-b)
		for r := 0; r < n; r++ {
			src := x[(b+r)*nf : (b+r+1)*nf]
			g := buf[(r/groupRows)*gstride:]
			k := r % groupRows
			for j, v := range src {
				lo, hi := ninf, pinf
				if v == v {
					lo = key(v)
					hi = lo
				}
				g[j*groupRows+k] = lo
				g[(nf+j)*groupRows+k] = hi
			}
		}
		ng := (n + groupRows - 1) / groupRows
		acc := sc.acc[:]
		for r := range acc {
			acc[r] = float32(base)
		}
		f.scorePadded(buf, ng, gstride, acc)
		f.scoreGeneral(buf, n, gstride, acc)
		for r, v := range acc[:n] {
			out[b+r] = float64(v)
		}
	}
}

func (f *forest) scorePadded(buf []uint32, groups, gstride int, acc []float32) {
	const nm, xm = padNodes - 1, xSpan - 1
	for _, pt := range f.pad {
		nodes := (*[padNodes]pnode)(f.pnodes[pt.nodes : int(pt.nodes)+padNodes])
		leaves := (*[padNodes]float32)(f.pleaves[pt.leaves : int(pt.leaves)+padNodes])
		d := int(pt.depth)
		inner := 1<<d - 1
		for g := 0; g < groups; g++ {
			x := (*[xSpan]uint32)(buf[g*gstride : g*gstride+xSpan])
			var i0, i1, i2, i3, i4, i5, i6, i7 int
			for l := 0; l < d; l++ {
				n0, n1, n2, n3 := nodes[i0&nm], nodes[i1&nm], nodes[i2&nm], nodes[i3&nm]
				i0 = 2*i0 + 1 + b2i(x[(n0.slot+0)&xm] >= n0.thr)
				i1 = 2*i1 + 1 + b2i(x[(n1.slot+1)&xm] >= n1.thr)
				i2 = 2*i2 + 1 + b2i(x[(n2.slot+2)&xm] >= n2.thr)
				i3 = 2*i3 + 1 + b2i(x[(n3.slot+3)&xm] >= n3.thr)
				n4, n5, n6, n7 := nodes[i4&nm], nodes[i5&nm], nodes[i6&nm], nodes[i7&nm]
				i4 = 2*i4 + 1 + b2i(x[(n4.slot+4)&xm] >= n4.thr)
				i5 = 2*i5 + 1 + b2i(x[(n5.slot+5)&xm] >= n5.thr)
				i6 = 2*i6 + 1 + b2i(x[(n6.slot+6)&xm] >= n6.thr)
				i7 = 2*i7 + 1 + b2i(x[(n7.slot+7)&xm] >= n7.thr)
			}
			a := (*[groupRows]float32)(acc[g*groupRows : g*groupRows+groupRows])
			a[0] += leaves[(i0-inner)&nm]
			a[1] += leaves[(i1-inner)&nm]
			a[2] += leaves[(i2-inner)&nm]
			a[3] += leaves[(i3-inner)&nm]
			a[4] += leaves[(i4-inner)&nm]
			a[5] += leaves[(i5-inner)&nm]
			a[6] += leaves[(i6-inner)&nm]
			a[7] += leaves[(i7-inner)&nm]
		}
	}
}

func (f *forest) scoreGeneral(buf []uint32, n, gstride int, acc []float32) {
	if len(f.gen) == 0 {
		return
	}
	feat, thr, left := f.gfeat, f.gthr, f.gleft
	for _, root := range f.gen {
		for r := 0; r < n; r++ {
			x := buf[(r/groupRows)*gstride+r%groupRows:]
			i := root
			for feat[i] >= 0 {
				i = left[i] + int32(b2i(x[feat[i]] >= thr[i]))
			}
			acc[r] += math.Float32frombits(thr[i])
		}
	}
}
