// Package eval measures recommendation quality offline, on real
// interaction logs, under fixed protocols (../shared/data/README.md):
// the Online Retail temporal split ("all" and "novel" variants) and the
// Taobao one-buy-per-user holdout. It scores baselines (popularity,
// co-visitation, the user's own history, EASE) and the serving pipeline
// itself (recommend.Service over a memstore built from the training events,
// with the rule-based and a GBDT ranker) with the same metrics: HitRate@k,
// NDCG@k, Recall@20 and MRR@k with ties scored as their exact expectation
// under random tie-breaking, and catalog coverage.
//
// Tuning only ever sees a validation split carved from the training data
// (Validation); the test split is read once, to score.
package eval
