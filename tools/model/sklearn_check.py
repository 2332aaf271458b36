#!/usr/bin/env python3
"""Trains scikit-learn's LogisticRegression on the train part of a history (the same
objective as Baton's: L2 penalty 1/C on the weights, intercept free) and prints its
coefficients and held-out AUC as JSON, for comparison with `baton model train`.

    /usr/bin/python3 tools/model/sklearn_check.py history.csv [--l2 1]   (Debian's python3-sklearn)
"""
import argparse
import csv
import json

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

FEATURES = ["no_match", "human_request", "talk_over_ratio", "long_silences",
            "negative_sentiment", "minutes", "prior_transfers", "candidate_share"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--l2", type=float, default=1.0)
    a = ap.parse_args()
    rows = list(csv.DictReader(open(a.csv)))
    part = lambda s: [r for r in rows if r.get("split", "train") == s]
    train, test = part("train"), part("test")
    X = lambda rs: [[float(r[f]) for f in FEATURES] for r in rs]
    y = lambda rs: [int(r["transferred"]) for r in rs]
    m = LogisticRegression(C=1 / a.l2, tol=1e-10, max_iter=10000).fit(X(train), y(train))
    p = m.predict_proba(X(test))[:, 1]
    best = roc_auc_score(y(test), [float(r["true_p"]) for r in test]) if test and "true_p" in test[0] else None
    print(json.dumps({"weights": list(m.coef_[0]), "intercept": float(m.intercept_[0]),
                      "auc": roc_auc_score(y(test), p), "bestAUC": best, "trainedOn": len(train)}))


if __name__ == "__main__":
    main()
