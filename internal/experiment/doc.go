// Package experiment is reco's A/B testing: experiment definitions,
// GrowthBook-compatible assignment, exposure and outcome accounting from
// the log, and the statistics of the results. It is HTTP-agnostic: serve
// maps the admin API onto Registry and Accumulator.Results, and recommend
// asks a Set for the user's variant and applies its Strategy.
//
// # Assignment
//
// Bucketing is GrowthBook's, so a shop moving from GrowthBook keeps its
// users' variants given the same seed: the bucket is Hash(salt, userID, 2)
// = fnv1a32(decimal(fnv1a32(salt+userID))) % 10000 / 10000 (10,000
// buckets), the salt defaulting to the experiment id; variant i owns
// [c_i, c_i + coverage*w_i) with c_i the sum of the normalized weights
// before it (BucketRanges), so raising coverage never moves a user between
// variants. Namespaces use GrowthBook's inNamespace, a separate
// 1,000-bucket hash fnv1a32(userID+"__"+namespaceID) % 1000 / 1000, so
// experiments sharing a namespace with disjoint ranges are mutually
// exclusive. The test vectors in testdata/growthbook_cases.json come from
// GrowthBook's SDK suite. Non-ASCII ids hash as UTF-8 bytes (as GrowthBook's
// Go SDK; its JavaScript SDK hashes UTF-16 units).
//
// Rules (AssignDetail): forced users (QA) get their variant unless the
// experiment is stopped; otherwise only a running experiment inside
// [Start, Stop) assigns, within its namespace and coverage. A Set's Primary
// is the assignment a request is served and logged under: the first
// experiment, in Set order, that takes the user.
//
// # Accounting
//
// The Accumulator consumes the log (impressions and events, in any
// partition interleaving); see its doc for the attribution rules, the
// buffering of events applied before their impression, and the memory
// bounds. Its Snapshot belongs in the stream checkpoint, next to the
// offsets, which makes the counts exactly-once across crashes.
//
// # Statistics
//
// Control is the first variant. Rates (ctr, add_to_cart_rate,
// conversion_rate) are per served list: lists with at least one attributed
// click (add-to-cart, purchase) over lists. Each is compared by a
// two-proportion z-test: the pooled standard error for the p-value, the
// unpooled one for the CI of the difference. revenue_per_user is compared
// by Welch's t-test on per-user attributed revenue (Welch–Satterthwaite
// degrees of freedom, t quantiles for the CIs). The reported lift is
// relative, (treatment - control)/control, with a delta-method CI:
// Var(lift) ≈ Var(t)/c² + t²·Var(c)/c⁴ (normal quantile for rates, the
// Welch t quantile for revenue). CUPED (revenue_per_user only) adjusts
// each user's revenue by their revenue before their first exposure,
// theta = cov(Y, X)/var(X) over control and treatment pooled, then runs
// Welch on the adjusted values. The SRM check is Pearson's chi-square
// goodness-of-fit of users per variant against the configured weights.
//
// The sequential test is the mixture SPRT of Johari et al. (Optimizely)
// on the relative lift with its delta-method variance v and a normal
// mixing distribution N(0, tau²): sequential_p_value = min(1, 1/Λ) with
// Λ = sqrt(v/(v+tau²))·exp(tau²·lift²/(2v(v+tau²))), and the matching
// confidence sequence. Options.SequentialTau (default 0.1, i.e. lifts of
// about 10%) is the tuning parameter: the test is most powerful for true
// lifts near tau, valid for any. Rejecting when sequential_p_value < alpha
// at any look keeps the false-positive rate below alpha however often the
// results are read; p_value is valid only read once, at a fixed sample
// size. The p-values and CIs are computed each time from the current
// totals (the always-valid p-value is not made monotone across reads).
//
// Caveat: the rate tests treat lists as independent although users are the
// randomization unit; with many lists per user their p-values are
// optimistic. revenue_per_user is per user and has no such issue.
//
// Every distribution is written by hand on package math: normal CDF and
// quantile, Student t through the regularized incomplete beta function,
// chi-square through the regularized incomplete gamma function. They, and
// each test, are checked against SciPy (testdata/gen_scipy_cases.py).
//
// What this package is not: targeting by attributes, sticky bucketing
// across weight changes (weights change only while draft), multi-armed
// bandits, or multiple-comparison corrections across variants and metrics.
package experiment
