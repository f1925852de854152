"""Fine-tuning the sentence encoder on the intents (full fine-tuning with a
classification head), so that its embeddings separate the store's intents.

The result is an ordinary sentence-transformers directory: the classifier
then fits its calibrated linear head on it exactly as on a frozen encoder.
Speed on a CPU comes from three choices: the word-embedding matrix stays
frozen (most of the parameters, little of the gain), batches hold texts of
similar length (little padding), and training stops after a few epochs.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar length, in random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: lengths[i])
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def finetune_encoder(base: str, texts: list[str], labels: list[str], out_dir: Path, epochs: int = 3,
                     batch_size: int = 32, lr: float = 6e-5, seed: int = 0, progress: bool = True) -> Path:
    """Fine-tune the sentence-transformers model at `base` on (texts, labels);
    save it to `out_dir` and return that path."""
    import torch
    from sentence_transformers import SentenceTransformer
    from tqdm import tqdm

    torch.manual_seed(seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rng = random.Random(seed)
    st = SentenceTransformer(base, device="cpu")
    tokenizer, model = st.tokenizer, st[0].auto_model
    for param in model.embeddings.parameters():
        param.requires_grad = False
    names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    y = torch.tensor([index[label] for label in labels])
    head = torch.nn.Linear(model.config.hidden_size, len(names))
    optimizer = torch.optim.AdamW([
        {"params": [p for p in model.parameters() if p.requires_grad], "lr": lr},
        {"params": head.parameters(), "lr": 1e-2},
    ], weight_decay=0.01)
    lengths = [len(t) for t in texts]
    steps = epochs * len(_batches(lengths, batch_size, random.Random(0)))
    warmup = max(1, int(0.06 * steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / steps))

    def embed(batch_texts: list[str]):
        encoded = tokenizer(batch_texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        hidden = model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    model.train()
    with tqdm(total=steps, desc="fine-tuning encoder", unit="step", disable=not progress) as bar:
        for epoch in range(epochs):
            losses = []
            for batch in _batches(lengths, batch_size, rng):
                logits = head(embed([texts[i] for i in batch]))
                loss = torch.nn.functional.cross_entropy(logits, y[batch], label_smoothing=0.1)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                losses.append(loss.item())
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses[-50:]):.3f}")
    model.eval()
    out_dir = Path(out_dir)
    st.save(str(out_dir))
    return out_dir
