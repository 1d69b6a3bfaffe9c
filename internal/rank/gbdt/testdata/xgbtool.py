#!/usr/bin/python3
"""Helper for the gbdt compatibility tests and benchmarks: runs real XGBoost.

Data files are CSV with a header: feature columns, then "label", then
optionally "qid". Missing values are written as "nan". Every command prints
one JSON object on stdout.

  gen      --rows N --features F --missing P --seed S --out FILE [--valid-rows M --valid-out FILE] [--rank]
  train    --train FILE [--valid FILE] --params JSON --rounds R --model-out FILE
           [--pred-data FILE --pred-out FILE]
  predict  --model FILE --data FILE --out FILE [--margin] [--contribs]
  bench-predict --model FILE --data FILE [--reps N]
"""
import argparse
import json
import sys
import time

import numpy as np
import xgboost as xgb


def load(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    li = header.index("label")
    qid = data[:, header.index("qid")].astype(np.int64) if "qid" in header else None
    feats = [i for i, h in enumerate(header) if h not in ("label", "qid")]
    X = data[:, feats].astype(np.float32)
    return X, data[:, li], qid, [header[i] for i in feats]


def groups(qid):
    # qid is sorted by construction: sizes of consecutive runs.
    _, idx, counts = np.unique(qid, return_index=True, return_counts=True)
    return counts[np.argsort(idx)]


def dmatrix(path, nthread):
    X, y, qid, _ = load(path)
    d = xgb.DMatrix(X, label=y, missing=np.nan, nthread=nthread)
    if qid is not None:
        d.set_group(groups(qid))
    return d, X, y, qid


def write_csv(path, X, y, qid=None):
    cols = [X, y.reshape(-1, 1)]
    header = ["f%d" % i for i in range(X.shape[1])] + ["label"]
    if qid is not None:
        cols.append(qid.reshape(-1, 1))
        header.append("qid")
    np.savetxt(path, np.hstack(cols), delimiter=",", header=",".join(header), comments="", fmt="%.9g")


def cmd_gen(a):
    from sklearn.datasets import make_classification
    rng = np.random.default_rng(a.seed)
    total = a.rows + a.valid_rows
    X, y = make_classification(n_samples=total, n_features=a.features, n_informative=max(2, a.features // 2),
                               n_redundant=a.features // 4, flip_y=0.05, class_sep=0.8, random_state=a.seed)
    X = X.astype(np.float32)
    # Missingness that carries signal for some features, random for others.
    mask = rng.random(X.shape) < a.missing
    mask[:, 0] |= (y == 1) & (rng.random(len(y)) < a.missing)
    X[mask] = np.nan
    qid = None
    if a.rank:
        # Graded relevance 0..3 from a noisy score.
        s = np.nan_to_num(X[:, 1]) + np.nan_to_num(X[:, 2]) + y * 1.5 + rng.normal(0, 0.5, len(y))
        y = np.digitize(s, np.quantile(s, [0.5, 0.8, 0.95])).astype(np.float64)
    y = y.astype(np.float64)
    if a.rank:
        qid = np.repeat(np.arange(total // 20 + 1), 20)[:total]
    n = a.rows
    write_csv(a.out, X[:n], y[:n], None if qid is None else qid[:n])
    if a.valid_rows:
        write_csv(a.valid_out, X[n:], y[n:], None if qid is None else qid[n:])
    print(json.dumps({"rows": a.rows, "valid_rows": a.valid_rows}))


def auc(y, p):
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, p))


def cmd_train(a):
    params = json.loads(a.params)
    nthread = int(params.get("nthread", 0)) or None
    dtrain, _, _, _ = dmatrix(a.train, nthread or -1)
    dvalid = None
    if a.valid:
        dvalid, Xv, yv, qv = dmatrix(a.valid, nthread or -1)
    # Timed: xgb.train alone (the quantile sketch included), no evaluation.
    t0 = time.perf_counter()
    b = xgb.train(params, dtrain, num_boost_round=a.rounds)
    secs = time.perf_counter() - t0
    b.save_model(a.model_out)
    out = {"train_seconds": secs, "trees": b.num_boosted_rounds()}
    if dvalid is not None and params.get("objective", "") == "binary:logistic":
        out["valid_auc"] = auc(yv, b.predict(dvalid))
    if a.pred_data:
        d, _, _, _ = dmatrix(a.pred_data, -1)
        np.savetxt(a.pred_out, b.predict(d, output_margin=True).astype(np.float64), fmt="%.9g")
    print(json.dumps(out))


def cmd_predict(a):
    b = xgb.Booster(model_file=a.model)
    X, _, _, names = load(a.data)
    d = xgb.DMatrix(X, missing=np.nan, feature_names=names if b.feature_names else None)
    if a.contribs:
        p = b.predict(d, pred_contribs=True)
    else:
        p = b.predict(d, output_margin=a.margin)
    np.savetxt(a.out, np.asarray(p, dtype=np.float64).reshape(len(X), -1), fmt="%.9g")
    print(json.dumps({"rows": len(X)}))


def cmd_bench_predict(a):
    b = xgb.Booster(model_file=a.model)
    b.set_param({"nthread": 1})
    X, _, _, _ = load(a.data)
    b.inplace_predict(X, missing=np.nan)  # warm up
    best = float("inf")
    for _ in range(a.reps):
        t0 = time.perf_counter()
        b.inplace_predict(X, missing=np.nan)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"rows": len(X), "best_seconds": best}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--rows", type=int, required=True)
    g.add_argument("--features", type=int, default=20)
    g.add_argument("--missing", type=float, default=0.1)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--out", required=True)
    g.add_argument("--valid-rows", type=int, default=0)
    g.add_argument("--valid-out")
    g.add_argument("--rank", action="store_true")
    t = sub.add_parser("train")
    t.add_argument("--train", required=True)
    t.add_argument("--valid")
    t.add_argument("--params", required=True)
    t.add_argument("--rounds", type=int, required=True)
    t.add_argument("--model-out", required=True)
    t.add_argument("--pred-data")
    t.add_argument("--pred-out")
    r = sub.add_parser("predict")
    r.add_argument("--model", required=True)
    r.add_argument("--data", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--margin", action="store_true")
    r.add_argument("--contribs", action="store_true")
    bp = sub.add_parser("bench-predict")
    bp.add_argument("--model", required=True)
    bp.add_argument("--data", required=True)
    bp.add_argument("--reps", type=int, default=200)
    a = p.parse_args()
    {"gen": cmd_gen, "train": cmd_train, "predict": cmd_predict, "bench-predict": cmd_bench_predict}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
