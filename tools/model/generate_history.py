#!/usr/bin/env python3
"""Generates a history of calls for Baton's transfer-probability model from a hidden
logistic model whose true probabilities are known (issue 20, "honest evaluation").

Each row is one call of a first operator and one candidate second operator: the features
Baton's dialog records give (Prediction's TransferFeatures.names, same order), whether the
call was transferred to the candidate (drawn from the hidden model), the true probability
(so the best reachable AUC on any part is known) and the part it belongs to (train/test).

    python3 tools/model/generate_history.py --calls 30000 --seed 7 > history.csv
    baton model train --csv history.csv

The features are drawn to look like the records (counts, flags, shares, minutes), with a
correlation between them (a caller who is not understood talks over the bot and asks for a
person more often), so the model has something to untangle.
"""
import argparse
import math
import random

FEATURES = ["no_match", "human_request", "talk_over_ratio", "long_silences",
            "negative_sentiment", "minutes", "prior_transfers", "candidate_share"]
# The hidden model: log-odds of a transfer to this candidate.
WEIGHTS = [0.45, 2.2, 1.5, 0.35, 1.2, 0.08, 0.6, 2.5]
INTERCEPT = -4.0


def call(rng):
    frustration = rng.random()                       # hidden, not a feature
    no_match = min(6, int(rng.expovariate(1.0) + 3 * frustration))
    human = 1 if rng.random() < 0.05 + 0.3 * frustration else 0
    talk_over = min(1.0, max(0.0, rng.gauss(0.15 + 0.4 * frustration, 0.1)))
    silences = min(5, int(rng.expovariate(1.5)))
    sentiment = min(1.0, max(0.0, rng.gauss(0.2 + 0.5 * frustration, 0.15)))
    minutes = round(rng.expovariate(1 / 4.0), 2)
    prior = min(4, int(rng.expovariate(2.0)))
    share = round(rng.betavariate(2, 5), 3)
    return [no_match, human, round(talk_over, 3), silences, round(sentiment, 3), minutes, prior, share]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--test-share", type=float, default=0.3, help="share of calls marked split=test")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    print(",".join(FEATURES + ["transferred", "true_p", "split"]))
    for _ in range(a.calls):
        x = call(rng)
        z = INTERCEPT + sum(w * v for w, v in zip(WEIGHTS, x))
        p = 1 / (1 + math.exp(-z))
        y = 1 if rng.random() < p else 0
        split = "test" if rng.random() < a.test_share else "train"
        print(",".join(str(v) for v in x) + f",{y},{p:.6f},{split}")


if __name__ == "__main__":
    main()
