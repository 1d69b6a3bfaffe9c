// Package gbdt trains and scores gradient-boosted decision trees in process.
// It is the heart of the product: every ranked slate is scored here, and
// every ranking model we ship is trained here.
//
// Training is histogram based, like XGBoost's tree_method=hist with
// grow_policy=depthwise: features are cut into at most MaxBin quantile bins,
// each node's gradient/hessian histogram is built for the smaller child only
// and the larger child's is the parent's minus the sibling's. Splits use
// XGBoost's gain and leaf-weight formulas (lambda, alpha, gamma,
// min_child_weight) and learn a default direction for missing values (NaN).
// The objectives are binary:logistic, rank:ndcg (LambdaMART) and
// reg:squarederror. Training is deterministic for a seed and does not depend
// on the number of threads.
//
// Models are read from and written to XGBoost's JSON model format (as saved
// by XGBoost 1.7 save_model("m.json")), so a model trained by XGBoost scores
// the same here and a model trained here loads in XGBoost.
//
// Scoring flattens the trees into contiguous arrays and scores a slate of
// rows tree by tree over blocks of rows. Contributions explains a single
// score with TreeSHAP, matching XGBoost's pred_contribs=True.
//
// The package deliberately is not a general machine-learning library: no
// categorical splits, no multi-class, no lossguide growth, no GPU, and no
// reading of data files (the modelcli package does that).
package gbdt
