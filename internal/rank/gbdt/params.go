package gbdt

import (
	"errors"
	"fmt"
	"math"
	"runtime"
)

// Objective names a training objective with XGBoost's spelling.
type Objective string

// The supported objectives.
const (
	BinaryLogistic  Objective = "binary:logistic"  // labels 0/1, Predict returns probabilities
	RankNDCG        Objective = "rank:ndcg"        // LambdaMART with NDCG@k pair weights, queries as Dataset.Groups
	RegSquaredError Objective = "reg:squarederror" // least squares regression
)

// Params configures Train. The names and meanings follow XGBoost's.
//
// Fields whose zero value would be meaningless take a default when zero (as
// noted on each). Lambda, Alpha, Gamma and MinChildWeight are taken as given,
// because zero is a legitimate value for them: start from DefaultParams to
// get XGBoost's defaults for those.
type Params struct {
	Objective       Objective // "" means binary:logistic
	MaxDepth        int       // max_depth; 0 means 6
	Eta             float64   // eta (learning rate); 0 means 0.3
	Rounds          int       // n_estimators / num_boost_round; 0 means 100
	Subsample       float64   // row sampling per round, in (0, 1]; 0 means 1
	ColsampleByTree float64   // feature sampling per tree, in (0, 1]; 0 means 1
	MinChildWeight  float64   // min_child_weight: minimum hessian sum in a child
	Lambda          float64   // lambda: L2 regularization on leaf weights
	Alpha           float64   // alpha: L1 regularization on leaf weights
	Gamma           float64   // gamma (min_split_loss): minimum loss reduction to split
	MaxBin          int       // max_bin: quantile bins per feature, 2..65534; 0 means 256
	BaseScore       float64   // base_score: global bias (a probability for binary:logistic); 0 means 0.5
	Seed            uint64    // seed for row and feature sampling

	// EarlyStoppingRounds stops training when the first validation metric
	// has not improved for this many rounds, and keeps the trees up to the
	// best round. 0 disables early stopping; it needs a validation set.
	EarlyStoppingRounds int

	NDCGAt  int // k for rank:ndcg pair weights and the NDCG@k metric; 0 means 10
	Threads int // worker goroutines; 0 means GOMAXPROCS

	// OnRound, if set, is called after every round with the validation
	// metrics (empty without a validation set). It runs on the calling
	// goroutine of Train.
	OnRound func(RoundResult)
}

// DefaultParams returns XGBoost's defaults: binary:logistic, max_depth 6,
// eta 0.3, 100 rounds, min_child_weight 1, lambda 1, alpha 0, gamma 0,
// max_bin 256, base_score 0.5.
func DefaultParams() Params {
	return Params{
		Objective:       BinaryLogistic,
		MaxDepth:        6,
		Eta:             0.3,
		Rounds:          100,
		Subsample:       1,
		ColsampleByTree: 1,
		MinChildWeight:  1,
		Lambda:          1,
		MaxBin:          256,
		BaseScore:       0.5,
		NDCGAt:          10,
	}
}

func (p Params) withDefaults() Params {
	if p.Objective == "" {
		p.Objective = BinaryLogistic
	}
	if p.MaxDepth == 0 {
		p.MaxDepth = 6
	}
	if p.Eta == 0 {
		p.Eta = 0.3
	}
	if p.Rounds == 0 {
		p.Rounds = 100
	}
	if p.Subsample == 0 {
		p.Subsample = 1
	}
	if p.ColsampleByTree == 0 {
		p.ColsampleByTree = 1
	}
	if p.MaxBin == 0 {
		p.MaxBin = 256
	}
	if p.BaseScore == 0 {
		p.BaseScore = 0.5
	}
	if p.NDCGAt == 0 {
		p.NDCGAt = 10
	}
	if p.Threads == 0 {
		p.Threads = runtime.GOMAXPROCS(0)
	}
	return p
}

func (p Params) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch p.Objective {
	case BinaryLogistic, RankNDCG, RegSquaredError:
	default:
		bad("objective %q is not one of %s, %s, %s", p.Objective, BinaryLogistic, RankNDCG, RegSquaredError)
	}
	if p.MaxDepth < 1 || p.MaxDepth > 30 {
		bad("max_depth %d not in 1..30", p.MaxDepth)
	}
	if !(p.Eta > 0) || math.IsInf(p.Eta, 0) {
		bad("eta %v must be > 0", p.Eta)
	}
	if p.Rounds < 1 {
		bad("rounds %d < 1", p.Rounds)
	}
	if !(p.Subsample > 0 && p.Subsample <= 1) {
		bad("subsample %v not in (0, 1]", p.Subsample)
	}
	if !(p.ColsampleByTree > 0 && p.ColsampleByTree <= 1) {
		bad("colsample_bytree %v not in (0, 1]", p.ColsampleByTree)
	}
	if !(p.MinChildWeight >= 0) || math.IsInf(p.MinChildWeight, 0) {
		bad("min_child_weight %v < 0", p.MinChildWeight)
	}
	if !(p.Lambda >= 0) || math.IsInf(p.Lambda, 0) {
		bad("lambda %v < 0", p.Lambda)
	}
	if !(p.Alpha >= 0) || math.IsInf(p.Alpha, 0) {
		bad("alpha %v < 0", p.Alpha)
	}
	if !(p.Gamma >= 0) || math.IsInf(p.Gamma, 0) {
		bad("gamma %v < 0", p.Gamma)
	}
	if p.MaxBin < 2 || p.MaxBin > 65534 {
		bad("max_bin %d not in 2..65534", p.MaxBin)
	}
	if p.Objective == BinaryLogistic && !(p.BaseScore > 0 && p.BaseScore < 1) {
		bad("base_score %v not in (0, 1) for %s", p.BaseScore, p.Objective)
	}
	if math.IsNaN(p.BaseScore) || math.IsInf(p.BaseScore, 0) {
		bad("base_score %v is not finite", p.BaseScore)
	}
	if p.EarlyStoppingRounds < 0 {
		bad("early_stopping_rounds %d < 0", p.EarlyStoppingRounds)
	}
	if p.NDCGAt < 1 {
		bad("ndcg k %d < 1", p.NDCGAt)
	}
	if p.Threads < 1 {
		bad("threads %d < 1", p.Threads)
	}
	return errors.Join(errs...)
}
