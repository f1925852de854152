"""`shopkeep recommend eval`: train on interactions, recommend for held-out users, score.

Input lines (JSONL): {"reviewerID", "asin", "overall", "unixReviewTime", ...}
(Amazon 2018 review format); a TEST line needs only reviewerID, asin and
unixReviewTime. Output: one {"reviewerID", "items": [asin, ...]} line per test
user, k items each that are not in the user's TRAIN history, and on stdout
{"hr@K", "ndcg@K", "popularity_hr@K"} with K the actual k.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from pathlib import Path

from knowledge.recommender import CoPurchaseModel, Interaction, InteractionError


def read_reviews(path: Path, need_rating: bool = False) -> list[Interaction]:
    """Interactions from an Amazon-format JSONL file; InteractionError names file:line."""
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise InteractionError(f"{path}: file not found") from None
    out = []
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InteractionError(f"{path}:{number}: invalid JSON: {getattr(exc, 'msg', exc)}") from None
            if not isinstance(row, dict):
                raise InteractionError(f"{path}:{number}: expected a JSON object")
            user, item, time = row.get("reviewerID"), row.get("asin"), row.get("unixReviewTime", 0)
            if not isinstance(user, str) or not user or not isinstance(item, str) or not item:
                raise InteractionError(f"{path}:{number}: needs \"reviewerID\" and \"asin\" strings")
            if not isinstance(time, (int, float)) or isinstance(time, bool):
                raise InteractionError(f"{path}:{number}: \"unixReviewTime\" must be a number")
            out.append(Interaction(user, item, float(time)))
    return out


def read_catalog_items(path: Path) -> list[str]:
    """The asins of an Amazon metadata file (.json or .json.gz, one object per line)."""
    opener = gzip.open if path.suffix == ".gz" else open
    items = []
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InteractionError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
                if not isinstance(row, dict) or not isinstance(row.get("asin"), str):
                    raise InteractionError(f"{path}:{number}: each product needs an \"asin\" string")
                items.append(row["asin"])
    except FileNotFoundError:
        raise InteractionError(f"{path}: file not found") from None
    except (OSError, EOFError) as exc:
        raise InteractionError(f"{path}: cannot read: {exc}") from None
    return items


def evaluate(train: list[Interaction], test: list[Interaction], k: int, model: CoPurchaseModel | None = None,
             progress: bool = False) -> tuple[dict, list[dict]]:
    """(metrics, recommendation lines). One test line per user is scored (their latest);
    HR@k: share of test users whose test item is in their k; NDCG@k: 1/log2(rank + 1) when hit."""
    from tqdm import tqdm

    if k <= 0:
        raise ValueError(f"k must be greater than 0. Currently, k is {k}")
    model = (model or CoPurchaseModel()).fit(train)
    targets: dict[str, Interaction] = {}
    for row in test:
        if row.user not in targets or row.time >= targets[row.user].time:
            targets[row.user] = row
    hits = ndcg = pop_hits = 0.0
    lines = []
    for user, target in tqdm(targets.items(), desc="recommending", unit="user", disable=not progress):
        history = model.histories.get(user, set())
        items = model.recommend(history, k)
        pop_items = model.recommend(history, k, popularity_only=True)
        if target.item in items:
            hits += 1
            ndcg += 1 / math.log2(items.index(target.item) + 2)
        pop_hits += target.item in pop_items
        lines.append({"reviewerID": user, "items": items})
    n = max(len(targets), 1)
    metrics = {f"hr@{k}": round(hits / n, 4), f"ndcg@{k}": round(ndcg / n, 4),
               f"popularity_hr@{k}": round(pop_hits / n, 4)}
    return metrics, lines


def cmd_eval(args: argparse.Namespace, config=None) -> int:
    train = read_reviews(Path(args.train))
    test = read_reviews(Path(args.test))
    if not train:
        raise InteractionError(f"{args.train}: no interactions")
    if args.catalog:
        # Read and checked only: ranking uses interactions alone (catalog links and
        # titles were not measured yet; beauty has no catalog).
        read_catalog_items(Path(args.catalog))
    metrics, lines = evaluate(train, test, args.k, CoPurchaseModel(args.shrink, args.popularity_weight),
                              progress=not args.quiet and sys.stderr.isatty())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")
    print(json.dumps(metrics))
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def add_recommend_commands(sub: argparse._SubParsersAction) -> None:
    """`shopkeep recommend eval ...`; each command's func takes (args, config)."""
    recommend = sub.add_parser("recommend", help="product recommendations: offline evaluation",
                               description="Item-item collaborative filtering (cosine with shrinkage) "
                                           "blended with popularity; see knowledge/recommender.py.")
    commands = recommend.add_subparsers(dest="recommend_command", required=True, metavar="COMMAND")
    ev = commands.add_parser(
        "eval", help="train on TRAIN, recommend k unseen items per TEST user, print HR/NDCG",
        description="Trains on TRAIN and, for each user in TEST, recommends k items not in their TRAIN "
                    "history. Prints {\"hr@K\", \"ndcg@K\", \"popularity_hr@K\"} as JSON and writes "
                    "{\"reviewerID\", \"items\"} lines to OUT. Lines are Amazon 2018 reviews: "
                    "{\"reviewerID\", \"asin\", \"unixReviewTime\", ...}; TEST needs only those three. "
                    "A user with several TEST lines is scored on the latest.")
    ev.add_argument("--train", required=True, metavar="TRAIN.jsonl", help="interactions to learn from")
    ev.add_argument("--test", required=True, metavar="TEST.jsonl", help="held-out interactions to score")
    ev.add_argument("--catalog", metavar="CATALOG.json.gz",
                    help="Amazon metadata lines (checked, not yet used for ranking; optional)")
    ev.add_argument("--k", type=_positive_int, default=10, help="items per user (default 10)")
    ev.add_argument("--out", required=True, metavar="RECS.jsonl", help="where to write the recommendations")
    ev.add_argument("--shrink", type=float, default=CoPurchaseModel().shrink,
                    help="similarity shrinkage (default %(default)s)")
    ev.add_argument("--popularity-weight", type=float, default=CoPurchaseModel().popularity_weight,
                    help="weight of popularity in the blend (default %(default)s)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_eval)
