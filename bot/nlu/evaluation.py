"""Measuring an intent model on labelled data: accuracy, macro-F1,
out-of-scope recall and precision, the most confused pairs, and speed."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from bot.nlu.classifier import FALLBACK_INTENT
from bot.nlu.interpreter import Interpreter
from bot.nlu.training_data import OUT_OF_SCOPE_LABELS


@dataclass
class Evaluation:
    examples: int
    accuracy: float  # all rows; an out-of-scope row is right when predicted nlu_fallback
    in_scope_accuracy: float
    macro_f1: float
    oos_examples: int
    oos_recall: float | None
    oos_precision: float | None
    median_ms: float
    p95_ms: float
    confused: list[tuple[str, str, int]] = field(default_factory=list)

    def text(self) -> str:
        lines = [
            f"examples            {self.examples} ({self.oos_examples} out of scope)",
            f"accuracy            {self.accuracy:.4f}",
            f"in-scope accuracy   {self.in_scope_accuracy:.4f}",
            f"macro-F1            {self.macro_f1:.4f}",
        ]
        if self.oos_recall is not None:
            lines += [f"out-of-scope recall    {self.oos_recall:.4f}",
                      f"out-of-scope precision {self.oos_precision:.4f}"]
        lines += [f"time per message    median {self.median_ms:.1f} ms, p95 {self.p95_ms:.1f} ms (one at a time)"]
        if self.confused:
            lines.append("most confused (gold -> predicted: count)")
            lines += [f"  {gold} -> {pred}: {n}" for gold, pred, n in self.confused]
        return "\n".join(lines)


def macro_f1(gold: list[str], pred: list[str]) -> float:
    labels = sorted(set(gold))
    scores = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, pred) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, pred) if g == label and p != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def time_single_messages(interpreter: Interpreter, texts: list[str], n: int = 300) -> tuple[float, float]:
    """Median and p95 milliseconds per message, one message per call, as when serving."""
    sample = texts[:n]
    interpreter.parse(sample[0])  # warm-up
    times = []
    for text in sample:
        started = time.perf_counter()
        interpreter.parse(text)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times)), float(np.percentile(times, 95))


def evaluate(interpreter: Interpreter, texts: list[str], gold: list[str], batch_size: int = 128,
             progress: bool = False) -> Evaluation:
    from tqdm import tqdm

    gold = [FALLBACK_INTENT if g in OUT_OF_SCOPE_LABELS else g for g in gold]
    pred = []
    for i in tqdm(range(0, len(texts), batch_size), desc="predicting", disable=not progress):
        pred += [p["intent"]["name"] for p in interpreter.parse_batch(texts[i:i + batch_size])]
    right = [g == p for g, p in zip(gold, pred)]
    in_scope = [i for i, g in enumerate(gold) if g != FALLBACK_INTENT]
    oos = [i for i, g in enumerate(gold) if g == FALLBACK_INTENT]
    predicted_oos = [i for i, p in enumerate(pred) if p == FALLBACK_INTENT]
    confused = Counter((gold[i], pred[i]) for i in range(len(gold)) if gold[i] != pred[i]).most_common(10)
    median_ms, p95_ms = time_single_messages(interpreter, texts)
    return Evaluation(
        examples=len(texts),
        accuracy=float(np.mean(right)),
        in_scope_accuracy=float(np.mean([right[i] for i in in_scope])) if in_scope else 0.0,
        macro_f1=macro_f1([gold[i] for i in in_scope], [pred[i] for i in in_scope]),
        oos_examples=len(oos),
        oos_recall=float(np.mean([right[i] for i in oos])) if oos else None,
        oos_precision=(float(np.mean([gold[i] == FALLBACK_INTENT for i in predicted_oos])) if predicted_oos else 0.0)
        if oos else None,
        median_ms=median_ms,
        p95_ms=p95_ms,
        confused=[(g, p, n) for (g, p), n in confused],
    )
