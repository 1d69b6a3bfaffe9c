package experiment

import "strconv"

// The FNV-1a 32-bit parameters.
const (
	fnvOffset32 = 2166136261
	fnvPrime32  = 16777619
)

// fnv1a32 is FNV-1a over the UTF-8 bytes of s. GrowthBook's JavaScript SDK
// hashes UTF-16 code units and its Go SDK UTF-8 bytes; the two agree on
// ASCII, which is what user ids almost always are. We follow the Go SDK.
func fnv1a32(s string) uint32 {
	h := uint32(fnvOffset32)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime32
	}
	return h
}

// Hash is GrowthBook's hash(seed, value, version), a number in [0, 1):
//
//	version 2: fnv1a32(decimal(fnv1a32(seed + value))) % 10000 / 10000
//	version 1: fnv1a32(value + seed) % 1000 / 1000
//
// Version 2 (10,000 buckets) is what experiments use; version 1 is what
// GrowthBook's namespaces use. Any other version returns false.
func Hash(seed, value string, version int) (float64, bool) {
	switch version {
	case 2:
		n := fnv1a32(strconv.FormatUint(uint64(fnv1a32(seed+value)), 10))
		return float64(n%10000) / 10000, true
	case 1:
		return float64(fnv1a32(value+seed)%1000) / 1000, true
	}
	return 0, false
}

// Range is a half-open interval [Start, End) of hash values.
type Range struct {
	Start, End float64
}

// Contains reports whether Start <= n < End.
func (r Range) Contains(n float64) bool { return n >= r.Start && n < r.End }

// EqualWeights returns n weights of 1/n (none for n <= 0).
func EqualWeights(n int) []float64 {
	if n <= 0 {
		return nil
	}
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / float64(n)
	}
	return w
}

// BucketRanges is GrowthBook's getBucketRanges: variation i owns
// [c_i, c_i + coverage*w_i) where c_i is the sum of the weights before it,
// so the ranges are laid out from 0 in variation order and raising coverage
// only widens each range at its end. Coverage is clamped to [0, 1]; weights
// that are missing, of the wrong length or not summing to 1 (within 0.01)
// are replaced by equal weights, exactly as GrowthBook does. Experiment
// normalizes its weights before calling this, so that fallback never
// applies to a validated experiment.
func BucketRanges(n int, coverage float64, weights []float64) []Range {
	coverage = min(max(coverage, 0), 1)
	if len(weights) != n {
		weights = EqualWeights(n)
	}
	total := 0.0
	for _, w := range weights {
		total += w
	}
	if total < 0.99 || total > 1.01 {
		weights = EqualWeights(n)
	}
	out := make([]Range, len(weights))
	cum := 0.0
	for i, w := range weights {
		out[i] = Range{cum, cum + coverage*w}
		cum += w
	}
	return out
}

// ChooseVariation is GrowthBook's chooseVariation: the index of the first
// range containing n, or -1 when n falls in none (outside coverage).
func ChooseVariation(n float64, ranges []Range) int {
	for i, r := range ranges {
		if r.Contains(n) {
			return i
		}
	}
	return -1
}

// InNamespace is GrowthBook's inNamespace: the user is in the namespace when
// Hash("__"+ns.ID, userID, 1) — that is fnv1a32(userID+"__"+ns.ID) % 1000 /
// 1000, a 1,000-bucket hash — lies in [ns.Start, ns.End).
func InNamespace(userID string, ns Namespace) bool {
	n, _ := Hash("__"+ns.ID, userID, 1)
	return n >= ns.Start && n < ns.End
}
