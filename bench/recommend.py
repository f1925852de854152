"""HR@10 / NDCG@10 / popularity HR@10 of the recommender on the Amazon interaction sets, per split.

Splits, all made from interactions_train.jsonl: "latest" holds out each user's
latest interaction (ties by file order); "second" drops the latest and holds out
the one before; "random-tie" is latest-out with ties at the same time broken at
random (seed 0). Run: .venv/bin/python bench/recommend.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from pathlib import Path

from knowledge.recommend_cli import evaluate, read_reviews
from knowledge.recommender import CoPurchaseModel

SETS = ("amazon_gift_cards", "amazon_all_beauty")


def split(rows, kind, seed=0):
    by_user = defaultdict(list)
    for n, row in enumerate(rows):
        by_user[row.user].append((n, row))
    rng = random.Random(seed)
    train, test = [], []
    for user, items in by_user.items():
        key = (lambda x: (x[1].time, rng.random())) if kind == "random-tie" else (lambda x: (x[1].time, x[0]))
        ordered = [row for _, row in sorted(items, key=key)]
        if kind == "second":
            ordered = ordered[:-1]
        train += ordered[:-1]
        test.append(ordered[-1])
    return train, test


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--shrink", type=float, default=CoPurchaseModel().shrink)
    parser.add_argument("--popularity-weight", type=float, default=CoPurchaseModel().popularity_weight)
    args = parser.parse_args(argv)
    for name in SETS:
        rows = read_reviews(Path(args.data) / name / "interactions_train.jsonl")
        for kind in ("latest", "second", "random-tie"):
            train, test = split(rows, kind)
            history = defaultdict(set)
            for row in train:
                history[row.user].add(row.item)
            ceiling = sum(row.item not in history[row.user] for row in test) / len(test)
            start = time.perf_counter()
            metrics, _ = evaluate(train, test, args.k, CoPurchaseModel(args.shrink, args.popularity_weight))
            seconds = time.perf_counter() - start
            print(json.dumps({"data": name, "split": kind, **metrics, "ceiling": round(ceiling, 4),
                              "users": len(test), "seconds": round(seconds, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
