package experiment

import (
	"math"
	"strconv"
	"time"
)

// Num is a float64 that encodes NaN and ±Inf (undefined: no data, a zero
// control) as JSON null.
type Num float64

// MarshalJSON writes the number, or null when it is not finite.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	*n = Num(f)
	return err
}

// The compared metrics.
const (
	MetricCTR            = "ctr"
	MetricAddToCartRate  = "add_to_cart_rate"
	MetricConversionRate = "conversion_rate"
	MetricRevenuePerUser = "revenue_per_user"
)

// VariantResult is one variant's totals. Rates are per served list:
// ctr = lists with at least one attributed click / lists, and likewise
// add_to_cart_rate and conversion_rate (purchases).
type VariantResult struct {
	Name                   string `json:"name"`
	Users                  int64  `json:"users"`
	Impressions            int64  `json:"impressions"`
	ClickedImpressions     int64  `json:"clicked_impressions"`
	AddToCartImpressions   int64  `json:"add_to_cart_impressions"`
	PurchasedImpressions   int64  `json:"purchased_impressions"`
	CTR                    Num    `json:"ctr"`
	AddToCartRate          Num    `json:"add_to_cart_rate"`
	ConversionRate         Num    `json:"conversion_rate"`
	Clicks                 int64  `json:"clicks"`
	AddToCarts             int64  `json:"add_to_carts"`
	Orders                 int64  `json:"orders"`
	Revenue                Num    `json:"revenue"`
	RevenuePerUser         Num    `json:"revenue_per_user"`
	AverageOrderValue      Num    `json:"average_order_value"`
	PreRevenuePerUser      Num    `json:"pre_revenue_per_user"`
	usersRevenue, usersPre []float64
}

// Comparison is one metric of one non-control variant against the control.
// Lift is relative, (treatment - control) / control; ci_low/ci_high is its
// delta-method CI and p_value the fixed-horizon test (two-proportion z for
// rates, Welch's t for revenue_per_user). sequential_* is the always-valid
// mSPRT on the lift. cuped_* (revenue_per_user only) is Welch on
// CUPED-adjusted revenue with pre-exposure revenue as the covariate.
type Comparison struct {
	Variant               string `json:"variant"`
	Metric                string `json:"metric"`
	Control               Num    `json:"control"`
	Treatment             Num    `json:"treatment"`
	Lift                  Num    `json:"lift"`
	CILow                 Num    `json:"ci_low"`
	CIHigh                Num    `json:"ci_high"`
	Diff                  Num    `json:"diff"`
	DiffCILow             Num    `json:"diff_ci_low"`
	DiffCIHigh            Num    `json:"diff_ci_high"`
	PValue                Num    `json:"p_value"`
	SequentialPValue      Num    `json:"sequential_p_value"`
	SequentialCILow       Num    `json:"sequential_ci_low"`
	SequentialCIHigh      Num    `json:"sequential_ci_high"`
	CUPEDLift             *Num   `json:"cuped_lift,omitempty"`
	CUPEDCILow            *Num   `json:"cuped_ci_low,omitempty"`
	CUPEDCIHigh           *Num   `json:"cuped_ci_high,omitempty"`
	CUPEDPValue           *Num   `json:"cuped_p_value,omitempty"`
	CUPEDTheta            *Num   `json:"cuped_theta,omitempty"`
	Significant           bool   `json:"significant"`            // p_value < 1 - confidence
	SequentialSignificant bool   `json:"sequential_significant"` // sequential_p_value < 1 - confidence
}

// ResultsJSON is the body of GET /v1/experiments/{id}/results.
type ResultsJSON struct {
	Experiment  string          `json:"experiment"`
	Status      string          `json:"status"`
	GeneratedAt time.Time       `json:"generated_at"`
	Confidence  float64         `json:"confidence"`
	Tau         float64         `json:"sequential_tau"`
	Control     string          `json:"control"`
	Variants    []VariantResult `json:"variants"`
	Comparisons []Comparison    `json:"comparisons"`
	SRMPValue   Num             `json:"srm_p_value"`
	// Left out of every number above: users seen in more than one variant,
	// forced (QA) users, and users logged under a variant the experiment
	// does not define.
	ExcludedMulti   int64 `json:"excluded_multiple_variants"`
	ExcludedForced  int64 `json:"excluded_forced"`
	ExcludedUnknown int64 `json:"excluded_unknown_variant"`
}

func ratio(a, b float64) Num {
	if b == 0 {
		return Num(math.NaN())
	}
	return Num(a / b)
}

// Results computes the results of e from what has been applied so far. The
// first variant is the control. now only stamps the result. It takes the
// accumulator's lock for the time it copies the experiment's users.
func (a *Accumulator) Results(e *Experiment, now time.Time) ResultsJSON {
	res := ResultsJSON{Experiment: e.ID, Status: e.Status, GeneratedAt: now, Confidence: a.opt.Confidence,
		Tau: a.opt.SequentialTau, Comparisons: []Comparison{}, SRMPValue: Num(math.NaN())}
	if res.Status == "" {
		res.Status = Running
	}
	idx := map[string]int{}
	res.Variants = make([]VariantResult, len(e.Variants))
	for i, v := range e.Variants {
		idx[v.Name] = i
		res.Variants[i].Name = v.Name
	}
	a.mu.Lock()
	for u, us := range a.exps[e.ID] {
		i, ok := idx[us.Variant]
		switch {
		case us.Multi:
			res.ExcludedMulti++
			continue
		case e.Forced[u] != "":
			res.ExcludedForced++
			continue
		case !ok:
			res.ExcludedUnknown++
			continue
		}
		vr := &res.Variants[i]
		vr.Users++
		vr.Impressions += us.Lists
		vr.ClickedImpressions += us.ClickedLists
		vr.AddToCartImpressions += us.CartLists
		vr.PurchasedImpressions += us.PurchaseLists
		vr.Clicks += us.Clicks
		vr.AddToCarts += us.Carts
		vr.Orders += us.Orders
		vr.usersRevenue = append(vr.usersRevenue, us.Revenue)
		vr.usersPre = append(vr.usersPre, us.PreRevenue)
	}
	a.mu.Unlock()
	if len(e.Variants) == 0 {
		return res
	}
	res.Control = e.Variants[0].Name

	users := make([]float64, len(res.Variants))
	for i := range res.Variants {
		vr := &res.Variants[i]
		users[i] = float64(vr.Users)
		rev, pre := 0.0, 0.0
		for j := range vr.usersRevenue {
			rev += vr.usersRevenue[j]
			pre += vr.usersPre[j]
		}
		imps := float64(vr.Impressions)
		vr.CTR = ratio(float64(vr.ClickedImpressions), imps)
		vr.AddToCartRate = ratio(float64(vr.AddToCartImpressions), imps)
		vr.ConversionRate = ratio(float64(vr.PurchasedImpressions), imps)
		vr.Revenue = Num(rev)
		vr.RevenuePerUser = ratio(rev, users[i])
		vr.AverageOrderValue = ratio(rev, float64(vr.Orders))
		vr.PreRevenuePerUser = ratio(pre, users[i])
	}
	res.SRMPValue = Num(SRM(users, e.Weights()))

	alpha := 1 - a.opt.Confidence
	c := &res.Variants[0]
	for i := 1; i < len(res.Variants); i++ {
		t := &res.Variants[i]
		rates := []struct {
			metric string
			xc, xt int64
		}{
			{MetricCTR, c.ClickedImpressions, t.ClickedImpressions},
			{MetricAddToCartRate, c.AddToCartImpressions, t.AddToCartImpressions},
			{MetricConversionRate, c.PurchasedImpressions, t.PurchasedImpressions},
		}
		for _, r := range rates {
			z := TwoProportion(float64(r.xc), float64(c.Impressions), float64(r.xt), float64(t.Impressions), a.opt.Confidence)
			res.Comparisons = append(res.Comparisons, a.comparison(t.Name, r.metric, z, alpha))
		}
		w := WelchSamples(c.usersRevenue, t.usersRevenue, a.opt.Confidence)
		cmp := a.comparison(t.Name, MetricRevenuePerUser, w, alpha)
		if len(c.usersRevenue) >= 2 && len(t.usersRevenue) >= 2 {
			cu, theta := CUPED(c.usersRevenue, c.usersPre, t.usersRevenue, t.usersPre, a.opt.Confidence)
			num := func(f float64) *Num { n := Num(f); return &n }
			cmp.CUPEDLift, cmp.CUPEDCILow, cmp.CUPEDCIHigh = num(cu.Lift), num(cu.LiftLow), num(cu.LiftHigh)
			cmp.CUPEDPValue, cmp.CUPEDTheta = num(cu.P), num(theta)
		}
		res.Comparisons = append(res.Comparisons, cmp)
	}
	for i := range res.Variants {
		res.Variants[i].usersRevenue, res.Variants[i].usersPre = nil, nil
	}
	return res
}

func (a *Accumulator) comparison(variant, metric string, t Test, alpha float64) Comparison {
	sp, sl, sh := Sequential(t.Lift, t.VarLift, a.opt.SequentialTau, alpha)
	return Comparison{Variant: variant, Metric: metric, Control: Num(t.Control), Treatment: Num(t.Treatment),
		Lift: Num(t.Lift), CILow: Num(t.LiftLow), CIHigh: Num(t.LiftHigh),
		Diff: Num(t.Diff), DiffCILow: Num(t.DiffLow), DiffCIHigh: Num(t.DiffHigh), PValue: Num(t.P),
		SequentialPValue: Num(sp), SequentialCILow: Num(sl), SequentialCIHigh: Num(sh),
		Significant: t.P < alpha, SequentialSignificant: sp < alpha}
}
