package gbdt

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Dataset is a set of labelled rows for training or validation.
// Train and its callees only read it; the caller keeps ownership.
type Dataset struct {
	X            []float32 // row-major, len = rows*Features; NaN means missing
	Features     int       // number of columns
	Labels       []float32 // one per row
	Groups       []int     // query sizes in row order, for rank:ndcg; they sum to the row count
	FeatureNames []string  // optional, len Features when set
}

// Rows returns the number of rows.
func (d *Dataset) Rows() int {
	if d == nil || d.Features == 0 {
		return 0
	}
	return len(d.X) / d.Features
}

func (d *Dataset) validate(obj Objective) error {
	if d.Features < 1 {
		return fmt.Errorf("features %d < 1", d.Features)
	}
	if len(d.X)%d.Features != 0 {
		return fmt.Errorf("len(X) %d is not a multiple of features %d", len(d.X), d.Features)
	}
	n := len(d.X) / d.Features
	if n == 0 {
		return errors.New("no rows")
	}
	if len(d.Labels) != n {
		return fmt.Errorf("%d labels for %d rows", len(d.Labels), n)
	}
	if d.FeatureNames != nil && len(d.FeatureNames) != d.Features {
		return fmt.Errorf("%d feature names for %d features", len(d.FeatureNames), d.Features)
	}
	for i, y := range d.Labels {
		if math.IsNaN(float64(y)) || math.IsInf(float64(y), 0) {
			return fmt.Errorf("label of row %d is %v", i, y)
		}
		if obj == BinaryLogistic && (y < 0 || y > 1) {
			return fmt.Errorf("label of row %d is %v, want 0..1 for %s", i, y, obj)
		}
		if obj == RankNDCG && (y < 0 || y > 31) {
			return fmt.Errorf("label of row %d is %v, want 0..31 for %s", i, y, obj)
		}
	}
	if obj == RankNDCG {
		if len(d.Groups) == 0 {
			return fmt.Errorf("%s needs query groups", obj)
		}
		sum := 0
		for i, g := range d.Groups {
			if g < 1 {
				return fmt.Errorf("group %d has size %d", i, g)
			}
			sum += g
		}
		if sum != n {
			return fmt.Errorf("groups sum to %d, want %d rows", sum, n)
		}
	}
	return nil
}

// binned is a quantized copy of a training matrix.
//
// Feature f has nb(f) = len(cuts[f]) value bins; a value v falls in the first
// bin i with v < cuts[f][i]. Its histogram segment starts at offs[f] and has
// nb(f)+1 slots, the last for missing values.
//
// The matrix is kept twice: column-major local bins (cols, nb(f) when
// missing) for partitioning rows at a split, and row-major global slots
// (slots16 when they fit in 16 bits, else slots32) for building histograms.
type binned struct {
	rows, nf int
	cols     []uint16
	slots16  []uint16
	slots32  []uint32
	cuts     [][]float32
	mins     []float32 // a value below every training value, per feature (XGBoost's MinValues)
	offs     []int32
	slots    int // total histogram slots
}

func (b *binned) nbins(f int) int { return len(b.cuts[f]) }

// col returns feature f's local bins, one per row.
func (b *binned) col(f int) []uint16 { return b.cols[f*b.rows : (f+1)*b.rows] }

// quantize computes XGBoost-style quantile cuts for each feature and bins x.
func quantize(x []float32, nf, maxBin, threads int) *binned {
	rows := len(x) / nf
	b := &binned{rows: rows, nf: nf, cols: make([]uint16, len(x)),
		cuts: make([][]float32, nf), mins: make([]float32, nf), offs: make([]int32, nf+1)}
	parallelFor(nf, threads, func(f int) {
		col := make([]float32, 0, rows)
		for r := 0; r < rows; r++ {
			if v := x[r*nf+f]; v == v {
				col = append(col, v)
			}
		}
		cuts, minv := cutPoints(col, maxBin)
		b.cuts[f], b.mins[f] = cuts, minv
		missing := uint16(len(cuts))
		last := len(cuts) - 1
		dst := b.col(f)
		for r := 0; r < rows; r++ {
			v := x[r*nf+f]
			if v != v {
				dst[r] = missing
				continue
			}
			i := sort.Search(len(cuts), func(i int) bool { return v < cuts[i] })
			if i > last {
				i = last
			}
			dst[r] = uint16(i)
		}
	})
	for f := 0; f < nf; f++ {
		b.offs[f+1] = b.offs[f] + int32(len(b.cuts[f])+1)
	}
	b.slots = int(b.offs[nf])
	if b.slots <= math.MaxUint16 {
		b.slots16 = make([]uint16, len(x))
		fillSlots(b, b.slots16, threads)
	} else {
		b.slots32 = make([]uint32, len(x))
		fillSlots(b, b.slots32, threads)
	}
	return b
}

func fillSlots[T uint16 | uint32](b *binned, dst []T, threads int) {
	nf := b.nf
	parallelBlocks(b.rows, threads, 8192, func(lo, hi int) {
		for f := 0; f < nf; f++ {
			col, off := b.col(f), T(b.offs[f])
			for r := lo; r < hi; r++ {
				dst[r*nf+f] = off + T(col[r])
			}
		}
	})
}

// cutPoints sorts col in place and returns at most maxBin cut values, the
// last one above the maximum, following XGBoost's HistogramCuts: with few
// distinct values every value gets its own bin.
func cutPoints(col []float32, maxBin int) (cuts []float32, minv float32) {
	if len(col) == 0 {
		return nil, 0
	}
	slices.Sort(col)
	lo, hi := col[0], col[len(col)-1]
	minv = lo - (abs32(lo) + 1e-5)
	distinct := 1
	for i := 1; i < len(col) && distinct <= maxBin; i++ {
		if col[i] != col[i-1] {
			distinct++
		}
	}
	if distinct <= maxBin {
		for i := 1; i < len(col); i++ {
			if col[i] != col[i-1] {
				cuts = append(cuts, col[i])
			}
		}
	} else {
		n := len(col)
		prev := lo
		for j := 1; j < maxBin; j++ {
			v := col[int(int64(j)*int64(n)/int64(maxBin))]
			if v > prev {
				cuts = append(cuts, v)
				prev = v
			}
		}
	}
	// The last cut sits above the maximum, as in XGBoost.
	last := hi + (abs32(hi) + 1e-5)
	cuts = append(cuts, last)
	return cuts, minv
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
