#!/usr/bin/python3
"""Expected values for the experiment package's statistics, from SciPy.

Run with Debian's /usr/bin/python3 (python3-scipy):

    /usr/bin/python3 testdata/gen_scipy_cases.py testdata/scipy_cases.json

The inputs are generated here with a fixed seed and written next to the
expected values, so the Go tests need neither Python nor the same random
generator. stats_test.go also runs this script live (see TestScipyLive) so
the committed JSON cannot drift from what SciPy computes.
"""
import json
import math
import sys

import numpy as np
import scipy
from scipy import stats

rng = np.random.RandomState(20240601)
out = {"scipy_version": scipy.__version__, "numpy_version": np.__version__}

out["norm"] = [
    {"x": x, "cdf": float(stats.norm.cdf(x)), "sf": float(stats.norm.sf(x))}
    for x in [-8.5, -5.0, -3.2, -1.96, -0.5, 0.0, 0.3, 1.0, 1.6448536269514722, 2.5, 4.0, 7.0]
]
out["norm_ppf"] = [
    {"p": p, "ppf": float(stats.norm.ppf(p))}
    for p in [1e-12, 1e-6, 0.001, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.975, 0.995, 0.999999]
]
out["t"] = [
    {"t": t, "df": df, "cdf": float(stats.t.cdf(t, df)), "sf": float(stats.t.sf(t, df)),
     "two_sided": float(2 * stats.t.sf(abs(t), df))}
    for t, df in [(0.0, 3), (0.5, 1), (-1.2, 2.5), (2.1, 7.3), (-3.4, 15), (1.96, 30.7), (2.5, 120.2),
                  (4.5, 1000), (-2.0, 9876.5), (6.0, 50), (1.0, 0.7), (12.0, 4)]
]
out["t_ppf"] = [
    {"p": p, "df": df, "ppf": float(stats.t.ppf(p, df))}
    for p, df in [(0.975, 1), (0.975, 2.5), (0.975, 7.3), (0.95, 15), (0.975, 30.7), (0.995, 120.2),
                  (0.975, 9876.5), (0.025, 12), (0.9, 3), (0.999, 4.2)]
]
out["chi2"] = [
    {"x": x, "k": k, "sf": float(stats.chi2.sf(x, k))}
    for x, k in [(0.5, 1), (3.84, 1), (10.0, 1), (2.0, 2), (7.5, 3), (30.0, 4), (0.1, 5), (80.0, 9), (150.0, 2)]
]

chisq = []
for obs, w in [([5000, 5000], [1, 1]), ([5100, 4900], [1, 1]), ([5210, 4790], [1, 1]),
               ([3050, 3000, 2950], [1, 1, 1]), ([1990, 8010], [0.2, 0.8]), ([980, 1005, 2015], [25, 25, 50]),
               ([10000, 9500], [1, 1])]:
    obs = np.array(obs, dtype=float)
    w = np.array(w, dtype=float)
    exp = obs.sum() * w / w.sum()
    r = stats.chisquare(obs, exp)
    chisq.append({"observed": obs.tolist(), "weights": w.tolist(), "stat": float(r.statistic), "p": float(r.pvalue)})
out["chisquare"] = chisq

conf = 0.95
zq = float(stats.norm.ppf(1 - (1 - conf) / 2))
props = []
for xc, nc, xt, nt in [(500, 10000, 560, 10000), (120, 2400, 100, 2300), (50, 1000, 51, 1000),
                       (4000, 100000, 4800, 100000), (3, 40, 9, 45), (1000, 5000, 1000, 5000)]:
    pc, pt = xc / nc, xt / nt
    pool = (xc + xt) / (nc + nt)
    z = (pt - pc) / math.sqrt(pool * (1 - pool) * (1 / nc + 1 / nt))
    p = float(2 * stats.norm.sf(abs(z)))
    vc, vt = pc * (1 - pc) / nc, pt * (1 - pt) / nt
    se = math.sqrt(vc + vt)
    lift = pt / pc - 1
    vl = vt / pc**2 + pt**2 * vc / pc**4
    props.append({"xc": xc, "nc": nc, "xt": xt, "nt": nt, "z": z, "p": p,
                  "diff_low": pt - pc - zq * se, "diff_high": pt - pc + zq * se,
                  "lift": lift, "lift_low": lift - zq * math.sqrt(vl), "lift_high": lift + zq * math.sqrt(vl)})
out["two_proportion"] = props


def revenue(n, conv, mean):
    """Per-user revenue: most users buy nothing, buyers spend lognormally."""
    buys = rng.rand(n) < conv
    return np.where(buys, rng.lognormal(math.log(mean), 0.8, n), 0.0)


welch = []
for nc, nt, conv_t, mean_t in [(200, 220, 0.12, 50.0), (1000, 1000, 0.10, 55.0), (35, 60, 0.3, 40.0),
                               (2000, 1900, 0.05, 60.0)]:
    c = revenue(nc, 0.1, 50.0)
    t = revenue(nt, conv_t, mean_t)
    r = stats.ttest_ind(t, c, equal_var=False)
    vc, vt = c.var(ddof=1) / nc, t.var(ddof=1) / nt
    df = (vc + vt) ** 2 / (vc**2 / (nc - 1) + vt**2 / (nt - 1))
    q = float(stats.t.ppf(1 - (1 - conf) / 2, df))
    d = t.mean() - c.mean()
    lift = t.mean() / c.mean() - 1
    vl = vt / c.mean() ** 2 + t.mean() ** 2 * vc / c.mean() ** 4
    welch.append({"control": c.tolist(), "treatment": t.tolist(), "t": float(r.statistic), "p": float(r.pvalue),
                  "df": df, "diff_low": d - q * math.sqrt(vc + vt), "diff_high": d + q * math.sqrt(vc + vt),
                  "lift": lift, "lift_low": lift - q * math.sqrt(vl), "lift_high": lift + q * math.sqrt(vl)})
out["welch"] = welch

cuped = []
for n, effect in [(400, 1.05), (2000, 1.0), (1500, 1.15)]:
    xc = revenue(n, 0.3, 40.0)
    xt = revenue(n, 0.3, 40.0)
    # Outcomes correlated with the pre-period.
    yc = 0.6 * xc + revenue(n, 0.1, 30.0)
    yt = effect * (0.6 * xt + revenue(n, 0.1, 30.0))
    y = np.concatenate([yc, yt])
    x = np.concatenate([xc, xt])
    theta = float(np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1))
    ac = yc - theta * (xc - x.mean())
    at = yt - theta * (xt - x.mean())
    r = stats.ttest_ind(at, ac, equal_var=False)
    cuped.append({"yc": yc.tolist(), "xc": xc.tolist(), "yt": yt.tolist(), "xt": xt.tolist(), "theta": theta,
                  "t": float(r.statistic), "p": float(r.pvalue), "lift": float(at.mean() / ac.mean() - 1)})
out["cuped"] = cuped

seq = []
for est, v, tau, alpha in [(0.1, 0.0025, 0.1, 0.05), (0.02, 0.0004, 0.1, 0.05), (-0.3, 0.01, 0.2, 0.05),
                           (0.0, 0.001, 0.1, 0.05), (0.05, 1e-5, 0.1, 0.01), (0.5, 0.04, 0.05, 0.1)]:
    t2 = tau * tau
    log_lambda = 0.5 * math.log(v / (v + t2)) + t2 * est * est / (2 * v * (v + t2))
    p = min(1.0, math.exp(-log_lambda))
    h = math.sqrt(v * (v + t2) / t2 * (math.log((v + t2) / v) - 2 * math.log(alpha)))
    seq.append({"est": est, "v": v, "tau": tau, "alpha": alpha, "p": p, "low": est - h, "high": est + h})
out["sequential"] = seq

path = sys.argv[1] if len(sys.argv) > 1 else "scipy_cases.json"
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
