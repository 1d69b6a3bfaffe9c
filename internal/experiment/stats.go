package experiment

import (
	"math"
)

// This file holds the distributions and tests, by hand on package math
// only. Each is checked against scipy in stats_test.go.

// NormCDF is the standard normal CDF.
func NormCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// NormSF is the standard normal survival function 1 - CDF, accurate in the
// upper tail.
func NormSF(x float64) float64 { return 0.5 * math.Erfc(x/math.Sqrt2) }

// NormPPF is the standard normal quantile (inverse CDF) for p in (0, 1).
func NormPPF(p float64) float64 {
	switch {
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	}
	x := -math.Sqrt2 * math.Erfcinv(2*p)
	// One Halley step on the CDF polishes the rational approximation to
	// full precision.
	e := NormCDF(x) - p
	if p > 0.5 {
		e = -(NormSF(x) - (1 - p))
	}
	u := e * math.Sqrt(2*math.Pi) * math.Exp(x*x/2)
	return x - u/(1+x*u/2)
}

// RegIncBeta is the regularized incomplete beta function I_x(a, b).
func RegIncBeta(a, b, x float64) float64 {
	switch {
	case math.IsNaN(x) || a <= 0 || b <= 0:
		return math.NaN()
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	if x > (a+1)/(a+b+2) {
		return 1 - RegIncBeta(b, a, 1-x)
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(a*math.Log(x)+b*math.Log1p(-x)-(la+lb-lab)) / a
	return front * betaCF(a, b, x)
}

// betaCF evaluates the continued fraction of the incomplete beta function
// by the modified Lentz method.
func betaCF(a, b, x float64) float64 {
	const tiny = 1e-300
	const eps = 1e-16
	c, d := 1.0, 1-(a+b)*x/(a+1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 100000; m++ {
		fm := float64(m)
		// Even step.
		num := fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm))
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		// Odd step.
		num = -(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// TCDF is Student's t CDF with df > 0 degrees of freedom (not necessarily
// an integer).
func TCDF(t, df float64) float64 {
	if math.IsInf(df, 1) {
		return NormCDF(t)
	}
	tail := 0.5 * RegIncBeta(df/2, 0.5, df/(df+t*t))
	if t > 0 {
		return 1 - tail
	}
	return tail
}

// TSF is 1 - TCDF(t, df), accurate in the upper tail.
func TSF(t, df float64) float64 { return TCDF(-t, df) }

// TTwoSided is the two-sided p-value P(|T| >= |t|).
func TTwoSided(t, df float64) float64 {
	if math.IsInf(df, 1) {
		return math.Erfc(math.Abs(t) / math.Sqrt2)
	}
	return RegIncBeta(df/2, 0.5, df/(df+t*t))
}

// TPPF is Student's t quantile for p in (0, 1).
func TPPF(p, df float64) float64 {
	switch {
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	case p == 0.5:
		return 0
	case math.IsInf(df, 1):
		return NormPPF(p)
	}
	if p < 0.5 {
		return -TPPF(1-p, df)
	}
	// Newton on the upper tail from the normal quantile, with bisection
	// as the safeguard: the CDF is monotone.
	q := 1 - p
	lo, hi := 0.0, math.Inf(1)
	x := NormPPF(p)
	lg1, _ := math.Lgamma((df + 1) / 2)
	lg2, _ := math.Lgamma(df / 2)
	logc := lg1 - lg2 - 0.5*math.Log(df*math.Pi)
	for range 200 {
		f := TSF(x, df) - q // decreasing in x
		if f > 0 {
			lo = x
		} else {
			hi = x
		}
		pdf := math.Exp(logc - (df+1)/2*math.Log1p(x*x/df))
		nx := x + f/pdf
		if !(nx > lo && nx < hi) || math.IsNaN(nx) {
			if math.IsInf(hi, 1) {
				nx = 2*x + 1
			} else {
				nx = (lo + hi) / 2
			}
		}
		if math.Abs(nx-x) <= 1e-15*math.Abs(x) {
			return nx
		}
		x = nx
	}
	return x
}

// RegGammaQ is the regularized upper incomplete gamma function Q(a, x).
func RegGammaQ(a, x float64) float64 {
	switch {
	case math.IsNaN(x) || a <= 0:
		return math.NaN()
	case x <= 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	}
	lga, _ := math.Lgamma(a)
	if x < a+1 {
		// Series for P.
		sum, del, ap := 1/a, 1/a, a
		for range 100000 {
			ap++
			del *= x / ap
			sum += del
			if math.Abs(del) < math.Abs(sum)*1e-17 {
				break
			}
		}
		return 1 - sum*math.Exp(-x+a*math.Log(x)-lga)
	}
	// Continued fraction for Q (Lentz).
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i <= 100000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-lga) * h
}

// Chi2SF is the chi-square survival function with k degrees of freedom.
func Chi2SF(x, k float64) float64 { return RegGammaQ(k/2, x/2) }

// Test is the outcome of comparing a treatment with a control.
type Test struct {
	Control, Treatment float64 // the two estimates (rates or means)
	Diff               float64 // Treatment - Control
	DiffLow, DiffHigh  float64 // CI of Diff
	Lift               float64 // Diff / Control (NaN if Control is 0)
	LiftLow, LiftHigh  float64 // delta-method CI of Lift
	Stat               float64 // z or t
	DF                 float64 // degrees of freedom (+Inf for z)
	P                  float64 // two-sided p-value
	VarLift            float64 // delta-method variance of Lift
}

// TwoProportion compares xt/nt with xc/nc: z with the pooled standard error
// for the p-value (as a classical two-proportion z-test), an unpooled
// (Wald) CI for the difference, and a delta-method CI for the relative lift.
// confidence is e.g. 0.95.
func TwoProportion(xc, nc, xt, nt, confidence float64) Test {
	pc, pt := xc/nc, xt/nt
	pool := (xc + xt) / (nc + nt)
	sePool := math.Sqrt(pool * (1 - pool) * (1/nc + 1/nt))
	r := Test{Control: pc, Treatment: pt, Diff: pt - pc, DF: math.Inf(1)}
	r.Stat = r.Diff / sePool
	r.P = math.Erfc(math.Abs(r.Stat) / math.Sqrt2)
	if sePool == 0 {
		r.Stat, r.P = math.NaN(), math.NaN()
	}
	vc, vt := pc*(1-pc)/nc, pt*(1-pt)/nt
	z := NormPPF(1 - (1-confidence)/2)
	se := math.Sqrt(vc + vt)
	r.DiffLow, r.DiffHigh = r.Diff-z*se, r.Diff+z*se
	r.Lift, r.VarLift = relative(pc, vc, pt, vt)
	h := z * math.Sqrt(r.VarLift)
	r.LiftLow, r.LiftHigh = r.Lift-h, r.Lift+h
	return r
}

// relative returns mt/mc - 1 and its delta-method variance given the
// variances of the two estimates (independent samples).
func relative(mc, vc, mt, vt float64) (lift, v float64) {
	if mc == 0 {
		return math.NaN(), math.NaN()
	}
	lift = mt/mc - 1
	v = vt/(mc*mc) + mt*mt*vc/(mc*mc*mc*mc)
	return lift, v
}

// Welch compares two means by Welch's t-test from summary statistics
// (means, sample variances with n-1, sizes): the p-value and the CI of the
// difference use Student's t with Welch–Satterthwaite degrees of freedom,
// and so does the delta-method CI of the relative lift.
func Welch(meanC, varC, nC, meanT, varT, nT, confidence float64) Test {
	vc, vt := varC/nC, varT/nT
	se := math.Sqrt(vc + vt)
	r := Test{Control: meanC, Treatment: meanT, Diff: meanT - meanC}
	r.DF = (vc + vt) * (vc + vt) / (vc*vc/(nC-1) + vt*vt/(nT-1))
	r.Stat = r.Diff / se
	r.P = TTwoSided(r.Stat, r.DF)
	if se == 0 || nC < 2 || nT < 2 {
		r.Stat, r.P, r.DF = math.NaN(), math.NaN(), math.NaN()
	}
	q := TPPF(1-(1-confidence)/2, r.DF)
	r.DiffLow, r.DiffHigh = r.Diff-q*se, r.Diff+q*se
	r.Lift, r.VarLift = relative(meanC, vc, meanT, vt)
	h := q * math.Sqrt(r.VarLift)
	r.LiftLow, r.LiftHigh = r.Lift-h, r.Lift+h
	return r
}

// Summary is the mean, sample variance (n-1) and size of a sample.
type Summary struct{ Mean, Var, N float64 }

// Summarize computes a Summary in two passes.
func Summarize(xs []float64) Summary {
	n := float64(len(xs))
	if n == 0 {
		return Summary{Mean: math.NaN(), Var: math.NaN()}
	}
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= n
	ss := 0.0
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	v := math.NaN()
	if n > 1 {
		v = ss / (n - 1)
	}
	return Summary{Mean: m, Var: v, N: n}
}

// WelchSamples runs Welch on two samples (control c, treatment t).
func WelchSamples(c, t []float64, confidence float64) Test {
	sc, st := Summarize(c), Summarize(t)
	return Welch(sc.Mean, sc.Var, sc.N, st.Mean, st.Var, st.N, confidence)
}

// CUPED adjusts each outcome y by its pre-period covariate x,
// y - theta*(x - mean(x)), with theta = cov(y, x)/var(x) over the control
// and treatment pooled, then runs Welch on the adjusted samples. Theta is
// returned too; it is 0 when x does not vary.
func CUPED(yc, xc, yt, xt []float64, confidence float64) (Test, float64) {
	n := float64(len(yc) + len(yt))
	var my, mx float64
	for i := range yc {
		my += yc[i]
		mx += xc[i]
	}
	for i := range yt {
		my += yt[i]
		mx += xt[i]
	}
	my /= n
	mx /= n
	var sxy, sxx float64
	for i := range yc {
		sxy += (yc[i] - my) * (xc[i] - mx)
		sxx += (xc[i] - mx) * (xc[i] - mx)
	}
	for i := range yt {
		sxy += (yt[i] - my) * (xt[i] - mx)
		sxx += (xt[i] - mx) * (xt[i] - mx)
	}
	theta := 0.0
	if sxx > 0 {
		theta = sxy / sxx
	}
	adj := func(y, x []float64) []float64 {
		out := make([]float64, len(y))
		for i := range y {
			out[i] = y[i] - theta*(x[i]-mx)
		}
		return out
	}
	return WelchSamples(adj(yc, xc), adj(yt, xt), confidence), theta
}

// SRM is the sample-ratio-mismatch check: the p-value of Pearson's
// chi-square goodness-of-fit of the observed counts against the expected
// shares (weights, normalized here), k-1 degrees of freedom. Variants with
// zero weight are left out. NaN when there is nothing to test.
func SRM(observed, weights []float64) float64 {
	total, wsum := 0.0, 0.0
	for i, w := range weights {
		if w > 0 {
			total += observed[i]
			wsum += w
		}
	}
	if total == 0 || wsum == 0 {
		return math.NaN()
	}
	stat, k := 0.0, 0.0
	for i, w := range weights {
		if w <= 0 {
			continue
		}
		e := total * w / wsum
		stat += (observed[i] - e) * (observed[i] - e) / e
		k++
	}
	if k < 2 {
		return math.NaN()
	}
	return Chi2SF(stat, k-1)
}

// Sequential is the mixture sequential probability ratio test (mSPRT,
// Johari, Pekelis & Walsh 2017, as used by Optimizely) of H0: delta = 0
// for an asymptotically normal estimate est with variance v, mixing over
// delta ~ N(0, tau^2):
//
//	Lambda = sqrt(v/(v+tau^2)) * exp(tau^2 est^2 / (2 v (v+tau^2)))
//
// It returns the always-valid p-value min(1, 1/Lambda) and the
// (1-alpha) confidence sequence est ± sqrt(v(v+tau^2)/tau^2 *
// (ln((v+tau^2)/v) - 2 ln alpha)). Rejecting whenever p < alpha, at any
// number of looks, keeps the false-positive rate below alpha.
func Sequential(est, v, tau, alpha float64) (p, low, high float64) {
	if !(v > 0) || math.IsNaN(est) {
		return math.NaN(), math.NaN(), math.NaN()
	}
	t2 := tau * tau
	logL := 0.5*math.Log(v/(v+t2)) + t2*est*est/(2*v*(v+t2))
	p = math.Min(1, math.Exp(-logL))
	h := math.Sqrt(v * (v + t2) / t2 * (math.Log((v+t2)/v) - 2*math.Log(alpha)))
	return p, est - h, est + h
}
