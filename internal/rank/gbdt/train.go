package gbdt

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
)

// RoundResult reports one boosting round.
type RoundResult struct {
	Round   int      // 0-based
	Metrics []Metric // on the validation set; the first decides early stopping
}

// Metric is a named evaluation value.
type Metric struct {
	Name  string // "logloss", "auc", "ndcg@10", "rmse"
	Value float64
}

// Report summarizes a training run.
type Report struct {
	Rounds        int     // rounds run
	BestIteration int     // 0-based round with the best first validation metric; last round without validation
	BestScore     float64 // that metric's value; NaN without validation
	History       []RoundResult
}

// Train fits a model on train, evaluating on valid (which may be nil) after
// every round. It honours ctx between rounds. With early stopping the model
// keeps the trees up to the best round.
func Train(ctx context.Context, p Params, train, valid *Dataset) (*Model, Report, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, Report{}, fmt.Errorf("train: %w", err)
	}
	if train == nil {
		return nil, Report{}, fmt.Errorf("train: no training set")
	}
	if err := train.validate(p.Objective); err != nil {
		return nil, Report{}, fmt.Errorf("train: training set: %w", err)
	}
	if valid != nil {
		if err := valid.validate(p.Objective); err != nil {
			return nil, Report{}, fmt.Errorf("train: validation set: %w", err)
		}
		if valid.Features != train.Features {
			return nil, Report{}, fmt.Errorf("train: validation set has %d features, training set %d", valid.Features, train.Features)
		}
	}
	if p.EarlyStoppingRounds > 0 && valid == nil {
		return nil, Report{}, fmt.Errorf("train: early stopping needs a validation set")
	}
	t := newTrainer(&p, train)
	var vm []float64
	if valid != nil {
		vm = make([]float64, valid.Rows())
		for i := range vm {
			vm[i] = t.base
		}
	}
	rep := Report{BestIteration: -1, BestScore: math.NaN()}
	var trees []tree
	for round := 0; round < p.Rounds; round++ {
		if err := ctx.Err(); err != nil {
			return nil, Report{}, fmt.Errorf("train: round %d: %w", round, err)
		}
		tr := t.boost()
		trees = append(trees, tr)
		res := RoundResult{Round: round}
		if valid != nil {
			addTree(&tr, valid, vm, p.Threads)
			res.Metrics = evaluate(p.Objective, valid, vm, p.NDCGAt)
			v := res.Metrics[0].Value
			if rep.BestIteration < 0 || better(res.Metrics[0].Name, v, rep.BestScore) {
				rep.BestIteration, rep.BestScore = round, v
			}
		} else {
			rep.BestIteration = round
		}
		rep.History = append(rep.History, res)
		rep.Rounds = round + 1
		if p.OnRound != nil {
			p.OnRound(res)
		}
		if p.EarlyStoppingRounds > 0 && round-rep.BestIteration >= p.EarlyStoppingRounds {
			break
		}
	}
	if p.EarlyStoppingRounds > 0 {
		trees = trees[:rep.BestIteration+1]
	}
	attrs := map[string]string{}
	if valid != nil {
		attrs["best_iteration"] = strconv.Itoa(rep.BestIteration)
		attrs["best_ntree_limit"] = strconv.Itoa(rep.BestIteration + 1)
		attrs["best_score"] = strconv.FormatFloat(rep.BestScore, 'g', -1, 64)
	}
	var names []string
	if train.FeatureNames != nil {
		names = slices.Clone(train.FeatureNames)
	}
	m, err := newModel(p.Objective, p.BaseScore, train.Features, names, trees, attrs)
	if err != nil {
		return nil, Report{}, fmt.Errorf("train: %w", err)
	}
	return m, rep, nil
}

// better reports whether metric value a beats b.
func better(name string, a, b float64) bool {
	if name == "logloss" || name == "rmse" {
		return a < b
	}
	return a > b
}

// evaluate computes the validation metrics from margins.
func evaluate(obj Objective, d *Dataset, margin []float64, k int) []Metric {
	switch obj {
	case BinaryLogistic:
		pr := make([]float64, len(margin))
		for i, m := range margin {
			pr[i] = sigmoid(m)
		}
		return []Metric{{"logloss", LogLoss(d.Labels, pr)}, {"auc", AUC(d.Labels, margin)}}
	case RankNDCG:
		return []Metric{{"ndcg@" + strconv.Itoa(k), NDCG(d.Labels, margin, d.Groups, k)}}
	}
	return []Metric{{"rmse", RMSE(d.Labels, margin)}}
}

// addTree adds the tree's leaf values to the margins of d's rows.
func addTree(t *tree, d *Dataset, margin []float64, threads int) {
	nf := d.Features
	parallelBlocks(len(margin), threads, 4096, func(b, e int) {
		for r := b; r < e; r++ {
			margin[r] += float64(t.cond[t.leaf(d.X[r*nf:r*nf+nf])])
		}
	})
}

// ghSum is a histogram bin: sums of gradients and hessians.
type ghSum struct{ g, h float64 }

func (a ghSum) sub(b ghSum) ghSum { return ghSum{a.g - b.g, a.h - b.h} }

// split is the best split found for a node.
type split struct {
	gain        float64 // loss change
	feat        int32
	bin         int32 // rows with a bin <= this go left
	cond        float32
	defLeft     bool
	left, right ghSum
}

// tnode is a node being grown.
type tnode struct {
	id         int32
	begin, end int // segment of trainer.rows
	sum        ghSum
	hist       []ghSum
	depth      int
	best       split
}

type trainer struct {
	p      *Params
	d      *Dataset
	b      *binned
	base   float64
	margin []float64
	gh     []gpair
	groups []int // query start offsets, len = queries+1
	rng    *rand.Rand

	rows      []int32  // row indices, partitioned by node
	tmp, tmp2 []int32  // partition scratch
	sampled   []bool   // rows in this round's sample, nil without subsampling
	feats     []int32  // features sampled for this tree
	chunks    [][2]int // feature ranges for histogram building
	pool      [][]ghSum
}

func newTrainer(p *Params, d *Dataset) *trainer {
	n := d.Rows()
	t := &trainer{p: p, d: d, b: quantize(d.X, d.Features, p.MaxBin, p.Threads),
		base: baseMargin(p.Objective, p.BaseScore), margin: make([]float64, n), gh: make([]gpair, n),
		rng: rand.New(rand.NewPCG(p.Seed, 0x9e3779b97f4a7c15)), rows: make([]int32, n), tmp: make([]int32, n), tmp2: make([]int32, n)}
	for i := range t.margin {
		t.margin[i] = t.base
	}
	if p.Objective == RankNDCG {
		t.groups = make([]int, 0, len(d.Groups)+1)
		s := 0
		for _, g := range d.Groups {
			t.groups = append(t.groups, s)
			s += g
		}
		t.groups = append(t.groups, s)
	}
	return t
}

func (t *trainer) getHist() []ghSum {
	if n := len(t.pool); n > 0 {
		h := t.pool[n-1]
		t.pool = t.pool[:n-1]
		clear(h)
		return h
	}
	return make([]ghSum, t.b.slots)
}

func (t *trainer) putHist(h []ghSum) {
	if h != nil {
		t.pool = append(t.pool, h)
	}
}

// sample picks this round's rows and this tree's features.
func (t *trainer) sample() int {
	n := t.d.Rows()
	cnt := 0
	if t.p.Subsample < 1 {
		if t.sampled == nil {
			t.sampled = make([]bool, n)
		}
		for i := 0; i < n; i++ {
			in := t.rng.Float64() < t.p.Subsample
			t.sampled[i] = in
			if in {
				t.rows[cnt] = int32(i)
				cnt++
			}
		}
	} else {
		for i := range t.rows {
			t.rows[i] = int32(i)
		}
		cnt = n
	}
	nf := t.d.Features
	t.feats = t.feats[:0]
	if t.p.ColsampleByTree < 1 {
		perm := t.rng.Perm(nf)
		k := max(1, int(math.Round(t.p.ColsampleByTree*float64(nf))))
		for _, f := range perm[:k] {
			t.feats = append(t.feats, int32(f))
		}
		slices.Sort(t.feats)
	} else {
		for f := 0; f < nf; f++ {
			t.feats = append(t.feats, int32(f))
		}
	}
	// Histograms are built for every feature (sampled or not) in
	// contiguous feature ranges, one per thread.
	nchunks := min(t.p.Threads, nf)
	t.chunks = t.chunks[:0]
	for c := 0; c < nchunks; c++ {
		t.chunks = append(t.chunks, [2]int{c * nf / nchunks, (c + 1) * nf / nchunks})
	}
	return cnt
}

// boost runs one round: gradients, one tree, margin update.
func (t *trainer) boost() tree {
	gradients(t.p, t.d, t.groups, t.margin, t.gh)
	n := t.sample()
	tr, leaves := t.grow(n)
	// Sampled rows get their leaf from the partition, the others by walking the tree.
	for _, lf := range leaves {
		v := float64(tr.cond[lf.id])
		for _, r := range t.rows[lf.begin:lf.end] {
			t.margin[r] += v
		}
	}
	if t.sampled != nil {
		nf := t.d.Features
		parallelBlocks(len(t.margin), t.p.Threads, 4096, func(b, e int) {
			for r := b; r < e; r++ {
				if !t.sampled[r] {
					t.margin[r] += float64(tr.cond[tr.leaf(t.d.X[r*nf:r*nf+nf])])
				}
			}
		})
	}
	return tr
}

// grow builds one tree depth-wise on the first n entries of t.rows.
func (t *trainer) grow(n int) (tree, []*tnode) {
	p := t.p
	var tr tree
	root := &tnode{begin: 0, end: n}
	for _, r := range t.rows[:n] {
		root.sum.g += float64(t.gh[r].g)
		root.sum.h += float64(t.gh[r].h)
	}
	w := t.weight(root.sum)
	root.id = tr.addNode(math.MaxInt32, float32(w*p.Eta), float32(w*p.Eta), float32(root.sum.h))
	var leaves []*tnode
	frontier := []*tnode{root}
	if p.MaxDepth > 0 {
		root.hist = t.getHist()
		t.buildHists([]*tnode{root})
		t.evalSplits(frontier)
	}
	for len(frontier) > 0 {
		var splitting []*tnode
		for _, nd := range frontier {
			if t.valid(nd) {
				splitting = append(splitting, nd)
			} else {
				t.putHist(nd.hist)
				nd.hist = nil
				leaves = append(leaves, nd)
			}
		}
		if len(splitting) == 0 {
			break
		}
		children := make([]*tnode, 0, 2*len(splitting))
		for _, nd := range splitting {
			s := nd.best
			lw, rw := t.weight(s.left), t.weight(s.right)
			l := tr.addNode(nd.id, float32(lw*p.Eta), float32(lw*p.Eta), float32(s.left.h))
			r := tr.addNode(nd.id, float32(rw*p.Eta), float32(rw*p.Eta), float32(s.right.h))
			tr.left[nd.id], tr.right[nd.id] = l, r
			tr.feat[nd.id], tr.cond[nd.id], tr.defLeft[nd.id] = s.feat, s.cond, s.defLeft
			tr.lossChg[nd.id] = float32(s.gain)
			children = append(children,
				&tnode{id: l, sum: s.left, depth: nd.depth + 1},
				&tnode{id: r, sum: s.right, depth: nd.depth + 1})
		}
		t.partition(splitting, children)
		if splitting[0].depth+1 >= p.MaxDepth {
			for _, nd := range splitting {
				t.putHist(nd.hist)
				nd.hist = nil
			}
			leaves = append(leaves, children...)
			break
		}
		// Build the smaller child's histogram; the larger one is the
		// parent's minus the smaller, computed in the parent's buffer.
		small := make([]*tnode, 0, len(splitting))
		for i, nd := range splitting {
			l, r := children[2*i], children[2*i+1]
			sm, lg := l, r
			if r.end-r.begin < l.end-l.begin {
				sm, lg = r, l
			}
			sm.hist = t.getHist()
			lg.hist = nd.hist
			nd.hist = nil
			small = append(small, sm)
		}
		t.buildHists(small)
		parallelFor(len(splitting), p.Threads, func(i int) {
			l, r := children[2*i], children[2*i+1]
			sm, lg := l, r
			if r.end-r.begin < l.end-l.begin {
				sm, lg = r, l
			}
			for j, v := range sm.hist {
				lg.hist[j].g -= v.g
				lg.hist[j].h -= v.h
			}
		})
		t.evalSplits(children)
		frontier = children
	}
	return tr, leaves
}

// valid reports whether nd's best split should be applied (XGBoost's
// ExpandEntry::IsValid).
func (t *trainer) valid(nd *tnode) bool {
	s := nd.best
	return nd.depth < t.p.MaxDepth && s.gain > 1e-6 && s.left.h > 0 && s.right.h > 0 && s.gain >= t.p.Gamma
}

// buildHists fills the histograms of nodes from their rows.
func (t *trainer) buildHists(nodes []*tnode) {
	nc := len(t.chunks)
	parallelFor(len(nodes)*nc, t.p.Threads, func(i int) {
		nd := nodes[i/nc]
		c := t.chunks[i%nc]
		rows := t.rows[nd.begin:nd.end]
		if t.b.slots16 != nil {
			buildHist(nd.hist, rows, t.gh, t.b.slots16, t.b.nf, c[0], c[1])
		} else {
			buildHist(nd.hist, rows, t.gh, t.b.slots32, t.b.nf, c[0], c[1])
		}
	})
}

// buildHist adds the gradients of rows to hist for features [f0, f1).
// Every (node, feature) histogram is summed by one goroutine in row order,
// so the result does not depend on the number of threads.
func buildHist[T uint16 | uint32](hist []ghSum, rows []int32, gh []gpair, slots []T, nf, f0, f1 int) {
	for _, r := range rows {
		g := gh[r]
		gg, hh := float64(g.g), float64(g.h)
		base := int(r) * nf
		for _, s := range slots[base+f0 : base+f1] {
			h := &hist[s]
			h.g += gg
			h.h += hh
		}
	}
}

// partition splits each parent's rows into its two children, stably. Big
// nodes are cut into blocks partitioned in parallel and then concatenated in
// block order, so the result does not depend on the number of threads.
func (t *trainer) partition(parents, children []*tnode) {
	const blockRows = 16384
	type task struct {
		node       int
		begin, end int
		nl         int
	}
	var tasks []task
	for i, nd := range parents {
		for b := nd.begin; b < nd.end; b += blockRows {
			tasks = append(tasks, task{node: i, begin: b, end: min(b+blockRows, nd.end)})
		}
	}
	parallelFor(len(tasks), t.p.Threads, func(i int) {
		tk := &tasks[i]
		s := parents[tk.node].best
		f := int(s.feat)
		col := t.b.col(f)
		missing := uint16(t.b.nbins(f))
		// Bins <= limit go left; missing values are mapped to limit or above.
		limit := int32(s.bin)
		missTo := int32(missing)
		if s.defLeft {
			missTo = -1
		}
		rows := t.rows[tk.begin:tk.end]
		lo, hi := t.tmp[tk.begin:tk.end], t.tmp2[tk.begin:tk.end]
		nl, nr := 0, 0
		for _, row := range rows {
			b := int32(col[row])
			if b == int32(missing) {
				b = missTo
			}
			left := b2i(b <= limit)
			lo[nl] = row
			hi[nr] = row
			nl += left
			nr += 1 - left
		}
		tk.nl = nl
	})
	// Concatenate: every parent's left rows in block order, then its right rows.
	parallelFor(len(parents), t.p.Threads, func(i int) {
		nd := parents[i]
		dst := t.rows[nd.begin:nd.end]
		nl := 0
		for _, tk := range tasks {
			if tk.node == i {
				nl += copy(dst[nl:], t.tmp[tk.begin:tk.begin+tk.nl])
			}
		}
		pos := nl
		for _, tk := range tasks {
			if tk.node == i {
				pos += copy(dst[pos:], t.tmp2[tk.begin:tk.begin+(tk.end-tk.begin-tk.nl)])
			}
		}
		l, r := children[2*i], children[2*i+1]
		l.begin, l.end = nd.begin, nd.begin+nl
		r.begin, r.end = nd.begin+nl, nd.end
	})
}

// calcGain is XGBoost's CalcGain: the loss reduction of a node with
// gradient sum g and hessian sum h at its optimal weight.
func calcGain(p *Params, s ghSum) float64 {
	if s.h < p.MinChildWeight || s.h <= 0 {
		return 0
	}
	g := thresholdL1(s.g, p.Alpha)
	return g * g / (s.h + p.Lambda)
}

// splitGain is calcGain(l)+calcGain(r) for children that already passed
// the min_child_weight check.
func splitGain(p *Params, l, r ghSum) float64 {
	if p.Alpha == 0 {
		return l.g*l.g/(l.h+p.Lambda) + r.g*r.g/(r.h+p.Lambda)
	}
	return calcGain(p, l) + calcGain(p, r)
}

// weight is XGBoost's CalcWeight, before the learning rate.
func (t *trainer) weight(s ghSum) float64 { return calcWeight(t.p, s) }

func calcWeight(p *Params, s ghSum) float64 {
	if s.h < p.MinChildWeight || s.h <= 0 {
		return 0
	}
	return -thresholdL1(s.g, p.Alpha) / (s.h + p.Lambda)
}

func thresholdL1(w, alpha float64) float64 {
	switch {
	case w > alpha:
		return w - alpha
	case w < -alpha:
		return w + alpha
	}
	return 0
}

// evalSplits finds the best split of each node that may still split. The
// (node, feature) candidates are evaluated in parallel and reduced per node
// in feature order, as a sequential scan would.
func (t *trainer) evalSplits(nodes []*tnode) {
	nfs := len(t.feats)
	res := make([]split, len(nodes)*nfs)
	parallelFor(len(res), t.p.Threads, func(i int) {
		nd := nodes[i/nfs]
		if nd.hist == nil || nd.depth >= t.p.MaxDepth || nd.sum.h < 2*t.p.MinChildWeight {
			return
		}
		res[i] = t.evalFeature(nd, int(t.feats[i%nfs]))
	})
	for n, nd := range nodes {
		nd.best = split{}
		for _, s := range res[n*nfs : (n+1)*nfs] {
			if s.gain > nd.best.gain {
				nd.best = s
			}
		}
	}
}

// evalFeature enumerates the split points of feature f like XGBoost's
// HistEvaluator: forward with missing values going right, then, when the
// node has missing values, backward with missing values going left. Empty
// bins are skipped: they repeat the previous candidate, which XGBoost's
// strict ">" comparison would keep anyway.
func (t *trainer) evalFeature(nd *tnode, f int) split {
	p := t.p
	nb := t.b.nbins(f)
	seg := nd.hist[t.b.offs[f] : int(t.b.offs[f])+nb+1]
	parent := nd.sum
	rootGain := calcGain(p, parent)
	mcw := p.MinChildWeight
	var best split
	bestBin, bestDefLeft, found := int32(0), false, false
	var acc ghSum
	for i := 0; i < nb; i++ {
		if seg[i].h == 0 && seg[i].g == 0 {
			continue
		}
		acc.g += seg[i].g
		acc.h += seg[i].h
		right := ghSum{parent.g - acc.g, parent.h - acc.h}
		if acc.h < mcw || right.h < mcw {
			continue
		}
		gain := float64(float32(splitGain(p, acc, right) - rootGain))
		if gain > best.gain {
			best.gain, best.left, best.right = gain, acc, right
			bestBin, bestDefLeft, found = int32(i), false, true
		}
	}
	if miss := seg[nb]; miss.g != 0 || miss.h != 0 {
		acc = ghSum{}
		for i := nb - 1; i >= 0; i-- {
			if seg[i].h == 0 && seg[i].g == 0 {
				continue
			}
			acc.g += seg[i].g
			acc.h += seg[i].h
			left := ghSum{parent.g - acc.g, parent.h - acc.h}
			if acc.h < mcw || left.h < mcw {
				continue
			}
			gain := float64(float32(splitGain(p, left, acc) - rootGain))
			if gain > best.gain {
				best.gain, best.left, best.right = gain, left, acc
				bestBin, bestDefLeft, found = int32(i-1), true, true
			}
		}
	}
	if !found {
		return split{}
	}
	best.feat, best.bin, best.defLeft = int32(f), bestBin, bestDefLeft
	switch {
	case bestBin >= 0:
		best.cond = t.b.cuts[f][bestBin]
	default:
		best.cond = t.b.mins[f]
	}
	return best
}
