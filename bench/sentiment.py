"""Review sentiment: accuracy on held-out sets and batched throughput.

    .venv/bin/python bench/sentiment.py [--data ../shared/data] [--rotations]

Sets (splits defined in lm/sentiment_train.py; none was used for tuning):
  zh in-domain     the shipped Chinese head on the 10% online_shopping test split (seed 0)
  zh cross-domain  a proxy head, same recipe, trained without the categories 水果 and 酒店,
                   scored on those categories' rows of the test split
  en gift cards    the shipped English head on Amazon gift-card reviews (each text once,
                   stars 1-2 negative, 4-5 positive), which it was not trained on;
                   accuracy and balanced accuracy (only 23 negatives: wide error bars)
  en yelp          (--rotations, ~10 min) a proxy English head trained on imdb + Amazon
                   beauty + gift cards, scored on UCI yelp
Accuracy counts the label only (neutral = wrong); "polar" is P(positive) > 0.5 alone.
Throughput: the analyser's run() on the test texts, batched, after warm-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lm.sentiment import SentimentAnalyser  # noqa: E402
from lm.sentiment_train import (  # noqa: E402
    ZH_CROSS_DOMAIN,
    en_probabilities,
    load_amazon,
    load_uci,
    load_zh,
    subset,
    train_en,
    train_zh,
    zh_probabilities,
    zh_split,
)


def report(name: str, labels: np.ndarray, results=None, p_positive: np.ndarray | None = None) -> None:
    labels = np.asarray(labels)
    if results is not None:
        predicted = np.array([{"positive": 1, "negative": 0}.get(r.label, -1) for r in results])
        p_positive = np.array([(r.score + 1) / 2 if r.score is not None else 0.5 for r in results])
        neutral = float(np.mean([r.label == "neutral" for r in results]))
    else:
        predicted, neutral = (p_positive > 0.5).astype(int), 0.0
    acc = float((predicted == labels).mean())
    polar = float(((p_positive > 0.5) == labels).mean())
    balanced = float(np.mean([(predicted[labels == c] == c).mean() for c in (0, 1)]))
    print(f"{name:<18} n={len(labels):>5} (neg {int((labels == 0).sum())})  accuracy {acc:.2%}  "
          f"balanced {balanced:.2%}  polar {polar:.2%}  neutral {neutral:.1%}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="default: %(default)s")
    parser.add_argument("--model", type=Path, help="sentiment model directory (default: the shipped one)")
    parser.add_argument("--rotations", action="store_true", help="also fine-tune and score the English yelp proxy")
    args = parser.parse_args(argv)

    analyser = SentimentAnalyser(args.model) if args.model else SentimentAnalyser()
    analyser.warm_up()

    zh, cats = load_zh(args.data)
    train, dev, test = zh_split(len(zh))
    zh_test = subset(zh, test)
    started = time.perf_counter()
    zh_results = analyser.run(zh_test.texts)
    zh_seconds = time.perf_counter() - started
    report("zh in-domain", zh_test.labels, zh_results)

    fitted = np.concatenate([train, dev])
    proxy = train_zh(subset(zh, fitted[~np.isin(cats[fitted], ZH_CROSS_DOMAIN)]))
    cross = subset(zh, test[np.isin(cats[test], ZH_CROSS_DOMAIN)])
    report("zh cross-domain", cross.labels, p_positive=zh_probabilities(proxy, cross.texts))

    gift = load_amazon(args.data, "amazon_gift_cards", balance=None)
    started = time.perf_counter()
    gift_results = analyser.run(gift.texts)
    en_seconds = time.perf_counter() - started
    report("en gift cards", gift.labels, gift_results)
    yelp = load_uci(args.data, "yelp")
    report("en yelp (seen)", yelp.labels, analyser.run(yelp.texts))

    if args.rotations:
        delta = train_en(load_uci(args.data, "imdb") + load_amazon(args.data, "amazon_all_beauty", short_views=True)
                         + load_amazon(args.data, "amazon_gift_cards", short_views=True))
        report("en yelp rotation", yelp.labels, p_positive=en_probabilities(delta, yelp.texts))

    short = [t for t in gift.texts if len(t) < 200][:1000]
    started = time.perf_counter()
    analyser.run(short)
    short_seconds = time.perf_counter() - started
    print(f"throughput (batched, after warm-up): zh {len(zh_test) / zh_seconds:,.0f} reviews/s, "
          f"en gift cards {len(gift) / en_seconds:,.0f} reviews/s, "
          f"en short (<200 chars) {len(short) / short_seconds:,.0f} reviews/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
