"""When should a negative message hand the conversation to a person?

Scores sets of shopper messages with the shipped sentiment model (lm/sentiment.py,
score = 2 * P(positive) - 1 in [-1, 1]) and prints, for each threshold t in
-0.50 .. -0.95 (step 0.05) and the configured console.negative_sentiment_handoff,
the share of each set's messages with score <= t, i.e. that would be handed off:

  ordinary sets (should NOT trigger): the share is the false-handoff rate
  negative sets (SHOULD trigger):     the share is the catch rate

Messages the analyser cannot score (empty, or a language other than English and
Chinese) never trigger; they count in n and are shown as "unscored".

    .venv/bin/python bench/handoff_sentiment.py [--data ../shared/data] [--cap 2000] [--seed 0]

Roles (the threshold is chosen on "tune" only; everything else is reported as-is):
  tune       demo NLU examples (bot/demo/nlu.yml, en and zh, human_handoff intent left out),
             bitext_ecommerce without its complaint and contact_human_agent intents,
             and the hand-written angry chat messages below (ANGRY_EN, ANGRY_ZH)
  held-out   every other ordinary set (shopper questions from faithfulness_dev and the two
             in-repo faithfulness stores, ecommerce FAQ questions and queries, stackfaq,
             banking77, clinc150, ABCD customer turns, the in-repo Chinese question sets)
             and the real negative sets (Amazon gift-card 1-2 star reviews, which the
             English head was not trained on; the 10% online_shopping test split's
             negative reviews, which the Chinese head was not trained on)
  either     messages where a handoff is defensible either way, reported apart:
             bitext complaint ("how do I file a complaint"), bitext contact_human_agent
             and the NLU human_handoff examples (they ask for a person anyway)
  probe      CALM_EN / CALM_ZH below: calm, negatively worded requests a bot should handle
             ("I don't like red, show me blue"); written before scoring, never tuned on
  seen       UCI yelp + imdb negative sentences: in the English head's training data, so
             their catch rate is optimistic (shown only for comparison)

Rule for the recommendation: for each language, the highest threshold (grid and
--extra) at which at most --max-false (default 1%) of EACH tune ordinary set's
messages trigger. One setting serves both languages, so the recommendation is the
lower of the two; a language with no such threshold is reported as failing.
Per message, not per conversation: a conversation of k shopper messages is
handed off falsely with probability about 1 - (1 - rate)^k.

Throughput: the analyser's batched run() after warm-up, per language.
Data under --data is read, never copied (several sets have research-only or
unstated licences).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lm.language import has_chinese  # noqa: E402
from lm.sentiment import get_analyser  # noqa: E402
from lm.sentiment_train import load_zh, zh_split  # noqa: E402

GRID = [round(-0.5 - 0.05 * i, 2) for i in range(10)]  # -0.50 .. -0.95
# Finer steps below the grid: the scores of this review-trained model saturate, and on
# the first run no grid value met the rule's budget (see --extra).
EXTRA = (-0.96, -0.97, -0.98, -0.99)
DEFAULT_CONFIGURED = -0.9

# ---------------------------------------------------------------- hand-written messages
# Kept apart from all real data and reported as their own sets. ANGRY_* are the
# "hand-written (tuning)" negatives; CALM_* are probes for false triggers (not tuned on).

ANGRY_EN = [
    "This is ridiculous, my order is three weeks late and nobody answers!",
    "I've emailed you four times about my refund and heard NOTHING back. Unacceptable.",
    "Where the hell is my package? Tracking hasn't moved in 10 days.",
    "You charged my card twice and I want my money back today.",
    "Worst customer service I have ever dealt with. I'm done with this store.",
    "I'm sick of being told to wait another 48 hours. That's what you said last week.",
    "The blender arrived smashed and your return form keeps giving an error. Fix this now.",
    "Are you kidding me? You cancelled my order without telling me and kept the money?",
    "I paid for express shipping and it took 12 days. I want the shipping fee refunded.",
    "stop sending me canned answers and actually read my message",
    "This is the third wrong item you've sent me. How hard can it be?",
    "I will be disputing this charge with my bank if I don't get a refund by Friday.",
    "Absolutely furious. The dress I ordered for my wedding never showed up.",
    "Your courier left my parcel in the rain and everything inside is ruined.",
    "I've been on hold for an hour and now the chat doesn't help either. Pathetic.",
    "Great, another \"sorry for the inconvenience\". That doesn't get my order here.",
    "You people promised a refund in 5 days. It's been a month. Liars.",
    "why is it so impossible to get a straight answer from you",
    "The jacket fell apart after one wear and you won't take it back?? Disgraceful.",
    "I'm leaving a 1-star review everywhere I can unless someone fixes this.",
    "I am extremely disappointed. I was overcharged and nobody seems to care.",
    "My account got locked, my order is stuck and your site keeps logging me out. I'm fed up.",
    "You sent a used product with someone else's hair on it. Gross. I want a full refund.",
    "Nobody has replied to my complaint in two weeks. Is anyone actually working there?",
    "This is a scam. I paid and never received anything.",
    "I'm so angry right now, the gift arrived after the birthday even though you guaranteed delivery.",
    "Don't tell me to check the tracking, I KNOW it says delivered. It's not here!",
    "Seriously the worst experience. Never ordering from you again.",
    "I want to speak to a manager, this has gone on long enough.",
    "Your so-called 'quality' sofa has a broken leg and I've been waiting a month for a reply.",
]

ANGRY_ZH = [
    "你们太差劲了，退款到现在还没到",
    "说好三天发货，现在都十天了，到底什么时候发？",
    "快递显示签收了，我根本没收到，你们给个说法！",
    "客服一直不回消息，什么垃圾服务",
    "买的衣服一洗就掉色，质量这么差还好意思卖？",
    "我已经催了五次了，每次都让我等，还要等多久？",
    "重复扣了我两次款，赶紧退给我",
    "收到的杯子是碎的，申请退货又被拒绝，太气人了",
    "再不处理我就去投诉你们，12315见",
    "这是我最后一次在你们家买东西",
    "发错货了！我要的是黑色，给我发个白色的，搞什么",
    "你们是骗子吧，钱付了东西一直不发",
    "退货寄回去半个月了，钱呢？",
    "气死我了，生日礼物晚到了一个星期",
    "商品描述和实物完全不符，欺骗消费者",
    "别再给我发自动回复了，找个能解决问题的人",
    "等了一个月还没到，你们的物流是走路送的吗？",
    "包装烂成这样，里面的东西全坏了，谁负责？",
    "说好的七天无理由退货，现在又说不能退，什么意思？",
    "态度太恶劣了，我要投诉那个客服",
    "我很失望，第二次买到假货了",
    "订单莫名其妙被取消了，优惠也没了，太坑了",
    "鞋子穿了一天就开胶，这质量简直离谱",
    "打电话没人接，在线客服也不理人，到底有没有人管？",
    "运费都收了还这么慢，真是服了",
    "这么简单的问题问了三遍都没人回答，你们是机器人吗",
    "我要求全额退款，否则我就给差评",
    "恶心，收到的食品已经过期了",
    "这都第三次了，每次都出问题，受够了",
    "你们就是这样对待老顾客的？太让人寒心了",
]

CALM_EN = [
    "I don't like red, show me blue",
    "the medium was too small, can I exchange it for a large?",
    "my order never arrived, can you check where it is?",
    "I don't want the newsletter anymore, how do I unsubscribe?",
    "the discount code didn't work at checkout",
    "I'm not happy with the colour, can I return it?",
    "unfortunately the item is damaged, what should I do?",
    "I can't log in to my account",
    "no, that's not my order number",
    "I didn't receive a confirmation email",
    "is there anything cheaper? this is too expensive for me",
    "I hate waiting for shipping, is there an express option?",
]

CALM_ZH = [
    "我不喜欢红色，有蓝色的吗",
    "尺码小了，可以换大一号吗",
    "我的订单还没到，帮我查一下",
    "优惠码用不了",
    "颜色不太喜欢，能退吗",
    "东西有点坏了，怎么处理",
    "登录不了账号",
    "不是这个订单号",
    "没收到确认邮件",
    "有便宜点的吗？这个太贵了",
    "不想要了，可以取消吗",
    "快递太慢了，有没有顺丰",
]


# ---------------------------------------------------------------- sets

@dataclass
class MessageSet:
    name: str
    lang: str  # "en" | "zh" (the set's language; each message is routed by the analyser)
    kind: str  # "ordinary" | "negative"
    role: str  # "tune" | "held-out" | "either" | "probe" | "seen"
    texts: list[str]
    tags: list[str] = field(default_factory=list)  # per message, e.g. its intent ("" if none)
    note: str = ""
    scores: np.ndarray | None = None  # filled in: score, NaN when unscored

    def __post_init__(self):
        if not self.tags:
            self.tags = [""] * len(self.texts)


def capped(texts: list[str], tags: list[str], cap: int, seed: int) -> tuple[list[str], list[str]]:
    """Distinct texts (first tag kept), then at most `cap` of them sampled with `seed` (0: all)."""
    seen: dict[str, str] = {}
    for t, g in zip(texts, tags):
        t = " ".join(t.split())
        if t and t not in seen:
            seen[t] = g
    items = sorted(seen.items())
    if cap and len(items) > cap:
        items = random.Random(seed).sample(items, cap)
    return [t for t, _ in items], [g for _, g in items]


def by_language(texts: list[str], tags: list[str] | None = None):
    """(en texts, en tags), (zh texts, zh tags) by whether a text has Chinese characters."""
    tags = tags or [""] * len(texts)
    en = [(t, g) for t, g in zip(texts, tags) if not has_chinese(t)]
    zh = [(t, g) for t, g in zip(texts, tags) if has_chinese(t)]
    return ([t for t, _ in en], [g for _, g in en]), ([t for t, _ in zh], [g for _, g in zh])


_ENTITY = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)|\[([^\]]+)\]\{[^}]+\}")


def nlu_examples(path: Path) -> tuple[list[str], list[str]]:
    """(text, intent) of every example in a Rasa NLU YAML file, entity markup removed."""
    import yaml

    texts, intents = [], []
    for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
        if "intent" not in block:
            continue
        for line in (block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                texts.append(_ENTITY.sub(lambda m: m.group(1) or m.group(2), line[2:].strip()))
                intents.append(block["intent"])
    return texts, intents


def jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_sets(data: Path, cap: int, seed: int) -> list[MessageSet]:
    sets: list[MessageSet] = []

    def add(name, lang, kind, role, texts, tags=None, note="", cap_=None):
        texts, tags = capped(texts, tags or [""] * len(texts), cap if cap_ is None else cap_, seed)
        if texts:
            sets.append(MessageSet(name, lang, kind, role, texts, tags, note))

    # --- tune: demo NLU (by language; human_handoff apart), bitext without complaint-type intents
    texts, intents = nlu_examples(ROOT / "bot" / "demo" / "nlu.yml")
    (en, en_i), (zh, zh_i) = by_language(texts, intents)
    for lang, t, i in (("en", en, en_i), ("zh", zh, zh_i)):
        keep = [k for k, g in enumerate(i) if g != "human_handoff"]
        add(f"nlu.yml {lang} (demo intents)", lang, "ordinary", "tune", [t[k] for k in keep], [i[k] for k in keep])
    handoff = [t for t, g in zip(texts, intents) if g == "human_handoff"]
    add("nlu.yml human_handoff (en+zh)", "en+zh", "negative", "either", handoff,
        note="asks for a person; handed off by intent anyway")

    with open(data / "bitext_ecommerce" / "train.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    apart = ("complaint", "contact_human_agent")
    add("bitext_ecommerce (25 intents)", "en", "ordinary", "tune",
        [r["text"] for r in rows if r["intent"] not in apart], [r["intent"] for r in rows if r["intent"] not in apart])
    add("bitext complaint", "en", "negative", "either", [r["text"] for r in rows if r["intent"] == "complaint"],
        note="'how do I file a complaint': mostly neutral wording")
    add("bitext contact_human_agent", "en", "negative", "either",
        [r["text"] for r in rows if r["intent"] == "contact_human_agent"], note="asks for a person")

    add("hand-written angry en (tuning)", "en", "negative", "tune", ANGRY_EN)
    add("hand-written angry zh (tuning)", "zh", "negative", "tune", ANGRY_ZH)

    # --- held-out ordinary: shopper questions of three fictional stores
    faith = [(q["query"], q["kind"]) for q in jsonl(data / "faithfulness_dev" / "questions.jsonl")]
    stores = [(q["query"], q["kind"]) for store in ("northwind", "maple-pine")
              for q in jsonl(ROOT / "bench" / "faithfulness" / store / "questions.jsonl")]
    for name, pairs in (("faithfulness_dev questions", faith), ("northwind+maple-pine questions", stores)):
        (en, en_k), (zh, zh_k) = by_language([p[0] for p in pairs], [p[1] for p in pairs])
        add(f"{name} en", "en", "ordinary", "held-out", en, en_k)
        add(f"{name} zh", "zh", "ordinary", "held-out", zh, zh_k)

    faq = json.loads((data / "ecommerce_faq" / "faq.json").read_text(encoding="utf-8"))["questions"]
    queries = [q["query"] for q in jsonl(ROOT / "bench" / "ecommerce_queries.jsonl")]
    (en_q, _), (zh_q_store, _) = by_language(queries)
    add("ecommerce_faq questions + en queries", "en", "ordinary", "held-out",
        [q["question"] for q in faq] + en_q, ["faq"] * len(faq) + ["query"] * len(en_q))
    stack = [q["query"] for q in jsonl(data / "stackfaq" / "queries.jsonl")]
    add("stackfaq queries (web apps)", "en", "ordinary", "held-out", stack)

    with open(data / "banking77" / "train.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    add("banking77", "en", "ordinary", "held-out", [r["text"] for r in rows], [r["category"] for r in rows])
    clinc = json.loads((data / "clinc150" / "data_train_val.json").read_text(encoding="utf-8"))
    items = [x for part in ("train", "val", "oos_train", "oos_val") for x in clinc[part]]
    add("clinc150 (incl. out-of-scope)", "en", "ordinary", "held-out", [x[0] for x in items], [x[1] for x in items])

    abcd = json.loads((data / "abcd_sample" / "abcd_sample.json").read_text(encoding="utf-8"))
    turns = [text for convo in abcd for speaker, text in convo["original"] if speaker == "customer"]
    add("abcd_sample customer turns", "en", "ordinary", "held-out", turns, note="3 dialogues, none angry")

    zh_intents = []
    with open(ROOT / "bench" / "zh_intents_test.csv", encoding="utf-8", newline="") as f:
        zh_intents = [(r["text"], r["intent"]) for r in csv.DictReader(f) if r["intent"] != "human_handoff"]
    add("bench zh_intents_test (no handoff)", "zh", "ordinary", "held-out",
        [t for t, _ in zh_intents], [g for _, g in zh_intents])
    zh_q = [q["query"] for q in jsonl(ROOT / "bench" / "zh_queries.jsonl")]
    zh_faq = [q["question"] for q in jsonl(ROOT / "bench" / "zh_faq.jsonl")]
    add("bench zh queries + zh_faq questions", "zh", "ordinary", "held-out", zh_q + zh_faq + zh_q_store,
        ["zh_queries"] * len(zh_q) + ["zh_faq"] * len(zh_faq) + ["ecommerce_queries"] * len(zh_q_store))

    # --- held-out negatives: reviews, a weaker proxy for angry chat
    gift = []
    with open(data / "amazon_gift_cards" / "interactions_train.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if (row.get("overall") or 5) <= 2 and (row.get("reviewText") or "").strip():
                gift.append((row["reviewText"], f"{int(row['overall'])} star"))
    add("amazon gift cards 1-2 star reviews", "en", "negative", "held-out",
        [t for t, _ in gift], [g for _, g in gift], note="reviews; not in the EN head's training data")
    zh_all, _ = load_zh(data)
    _, _, test = zh_split(len(zh_all))
    add("online_shopping test negatives", "zh", "negative", "held-out",
        [zh_all.texts[i] for i in test if zh_all.labels[i] == 0],
        note="reviews; the ZH head's 10% test split (not trained on)")

    # --- probes and seen data
    add("hand-written calm en (probe)", "en", "ordinary", "probe", CALM_EN)
    add("hand-written calm zh (probe)", "zh", "ordinary", "probe", CALM_ZH)
    uci = []
    for name in ("yelp", "imdb"):
        for line in (data / "sentiment_en" / f"{name}_labelled.txt").read_text(encoding="utf-8").splitlines():
            text, _, label = line.rpartition("\t")
            if label.strip() == "0" and text.strip():
                uci.append((text, name))
    add("UCI yelp+imdb negatives (seen)", "en", "negative", "seen", [t for t, _ in uci], [g for _, g in uci],
        note="in the EN head's training data: optimistic")
    return sets


# ---------------------------------------------------------------- scoring

def score_all(sets: list[MessageSet], batch: int) -> dict[str, tuple[int, float]]:
    """Fill each set's scores; returns {lang: (messages, seconds)} of model time."""
    from tqdm import tqdm

    analyser = get_analyser()
    analyser.warm_up()
    analyser.run(["warm up the encoder", "预热一下"])
    timing: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    total = sum(len(s.texts) for s in sets)
    with tqdm(total=total, desc="scoring", unit="msg") as bar:
        for s in sets:
            bar.set_postfix_str(s.name[:28])
            scores = np.full(len(s.texts), np.nan)
            for start in range(0, len(s.texts), batch):
                chunk = s.texts[start:start + batch]
                began = time.perf_counter()
                results = analyser.run(chunk)
                spent = time.perf_counter() - began
                langs = Counter(r.lang for r in results if r.score is not None)
                for lang, n in langs.items():  # split the chunk's time by its languages (each chunk is ~one)
                    timing[lang][0] += n
                    timing[lang][1] += spent * n / max(1, sum(langs.values()))
                for i, r in enumerate(results):
                    if r.score is not None:
                        scores[start + i] = r.score
                bar.update(len(chunk))
            s.scores = scores
    return {lang: (int(n), sec) for lang, (n, sec) in timing.items()}


def rate(s: MessageSet, t: float) -> float:
    """Share of the set's messages (unscored included, never triggering) with score <= t."""
    return float(np.sum(s.scores <= t + 1e-12)) / len(s.texts) if len(s.texts) else float("nan")


def wilson_upper(k: int, n: int, z: float = 1.96) -> float:
    if n == 0:
        return float("nan")
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))


def choose(sets: list[MessageSet], thresholds: list[float], max_false: float) -> dict[str, float | None]:
    """Per language: the highest threshold at which every tune ordinary set of that
    language has at most `max_false` of its messages triggering (None: none does)."""
    tune = defaultdict(list)
    for s in sets:
        if s.role == "tune" and s.kind == "ordinary":
            tune[s.lang].append(s)
    return {lang: max((t for t in thresholds if all(rate(s, t) <= max_false + 1e-12 for s in group)), default=None)
            for lang, group in sorted(tune.items())}


# ---------------------------------------------------------------- printing

def configured_threshold(override: float | None) -> tuple[float, str]:
    if override is not None:
        return override, "--configured"
    try:
        from bot.config import load_config

        value = load_config().console.negative_sentiment_handoff
        if value is not None:
            return float(value), "console.negative_sentiment_handoff (demo config)"
    except Exception as exc:  # the console section may not exist in this checkout
        print(f"(could not read console.negative_sentiment_handoff: {exc}; using {DEFAULT_CONFIGURED})")
    return DEFAULT_CONFIGURED, "default guess"


def print_table(sets: list[MessageSet], thresholds: list[float], configured: float, chosen: float | None) -> None:
    head = f"{'set':<40}{'role':<9}{'n':>6}{'unsc':>5} " + "".join(
        f"{t:>7.2f}{'*' if t == configured else ('<' if t == chosen else ' ')}" for t in thresholds)
    order = {"tune": 0, "held-out": 1, "probe": 2, "either": 3, "seen": 4}
    for kind, title in (("ordinary", "ORDINARY messages: share that would be handed off (false handoffs)"),
                        ("negative", "NEGATIVE messages: share that would be handed off (caught)")):
        print(f"\n{title}\n{head}\n{'-' * len(head)}")
        for lang in ("en", "zh", "en+zh"):
            for s in sorted((s for s in sets if s.kind == kind and s.lang == lang), key=lambda s: order[s.role]):
                unscored = int(np.isnan(s.scores).sum())
                print(f"{s.name[:39]:<40}{s.role:<9}{len(s.texts):>6}{unscored:>5} "
                      + "".join(f"{100 * rate(s, t):>7.1f}%" for t in thresholds))
    print("(* configured, < recommended by the rule; columns are thresholds t: hand off when score <= t)")


def print_intents(s: MessageSet, thresholds: list[float], top: int) -> None:
    groups = defaultdict(list)
    for tag, score in zip(s.tags, s.scores):
        groups[tag].append(score)
    rows = sorted(groups.items(), key=lambda kv: -np.mean(np.array(kv[1]) <= thresholds[0] + 1e-12))
    print(f"\n{s.name}: share handed off per intent (top {min(top, len(rows))} of {len(rows)} by the first column)")
    print(f"  {'intent':<32}{'n':>5} " + "".join(f"{t:>8.2f}" for t in thresholds))
    for tag, scores in rows[:top]:
        scores = np.array(scores)
        print(f"  {tag[:31]:<32}{len(scores):>5} "
              + "".join(f"{100 * np.mean(scores <= t + 1e-12):>7.1f}%" for t in thresholds))


def print_examples(s: MessageSet, t: float, n: int) -> None:
    scored = [(sc, tx, tg) for sc, tx, tg in zip(s.scores, s.texts, s.tags) if not math.isnan(sc)]
    if s.kind == "ordinary":
        picked = sorted(scored)[:n]
        what = "lowest-scoring (would trigger when score <= t)"
    else:
        picked = sorted(scored, reverse=True)[:n]
        what = "highest-scoring (missed when score > t)"
    print(f"\n{s.name} [{s.role}], {what}, t={t:.2f}:")
    for sc, tx, tg in picked:
        mark = "TRIGGER" if sc <= t + 1e-12 else "-------"
        tx = tx if len(tx) <= 110 else tx[:107] + "..."
        print(f"  {mark} {sc:+.3f}  {tx}" + (f"   [{tg}]" if tg else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the shared data folder (default: %(default)s)")
    parser.add_argument("--cap", type=int, default=2000,
                        help="at most this many distinct messages per set, sampled with --seed; 0: all "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: %(default)s)")
    parser.add_argument("--max-false", type=float, default=0.01,
                        help="the rule's budget: share of tune ordinary messages per language that may "
                             "trigger (default: %(default)s)")
    parser.add_argument("--extra", default=",".join(str(t) for t in EXTRA),
                        help="further thresholds shown after the -0.50..-0.95 grid, comma-separated "
                             "(default: %(default)s; '' for none)")
    parser.add_argument("--configured", type=float,
                        help="the configured threshold to show (default: read console.negative_sentiment_handoff)")
    parser.add_argument("--at", type=float,
                        help="threshold for the per-intent and example sections (default: the recommended one)")
    parser.add_argument("--examples", type=int, default=6, help="examples shown per set (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=256, help="messages per run() call (default: %(default)s)")
    parser.add_argument("--check-classify", type=int, default=40,
                        help="compare classify() one by one with the batched run() on this many "
                             "messages (default: %(default)s; 0: skip)")
    args = parser.parse_args(argv)

    configured, source = configured_threshold(args.configured)
    extra = {round(float(t), 4) for t in args.extra.split(",") if t.strip()}
    thresholds = sorted(set(GRID) | extra | {round(configured, 4)}, reverse=True)
    started = time.perf_counter()
    sets = load_sets(args.data, args.cap, args.seed)
    print(f"{len(sets)} sets, {sum(len(s.texts) for s in sets):,} messages (cap {args.cap or 'none'}, seed "
          f"{args.seed}), loaded in {time.perf_counter() - started:.1f}s; configured threshold {configured} ({source})")
    timing = score_all(sets, args.batch)

    per_lang = choose(sets, thresholds, args.max_false)
    passing = [t for t in per_lang.values() if t is not None]
    chosen = min(passing) if passing else None
    print_table(sets, thresholds, configured, chosen)

    print("\nthroughput (batched run(), after warm-up): " + ", ".join(
        f"{lang} {n / sec:,.0f} msg/s ({n:,} in {sec:.1f}s)" for lang, (n, sec) in sorted(timing.items()) if sec))

    if args.check_classify:
        analyser = get_analyser()
        pool = [(s, i) for s in sets for i in range(len(s.texts)) if not math.isnan(s.scores[i])]
        sample = random.Random(args.seed).sample(pool, min(args.check_classify, len(pool)))
        began = time.perf_counter()
        diff = max(abs(analyser.classify(s.texts[i]).score - s.scores[i]) for s, i in sample)
        each_ms = (time.perf_counter() - began) / len(sample) * 1000
        print(f"classify() one by one vs batched run() on {len(sample)} messages: max |score difference| {diff:.4f}; "
              f"{each_ms:.1f} ms per message one at a time (as each turn scores its message)")

    print(f"\nrule: per language, the highest t at which each tune ordinary set has <= {args.max_false:.1%} "
          f"triggering")
    for lang, t in per_lang.items():
        tune = [s for s in sets if s.role == "tune" and s.kind == "ordinary" and s.lang == lang]
        lowest = min(thresholds)
        if t is None:
            print(f"  {lang}: none of the thresholds; at the lowest ({lowest}) "
                  + ", ".join(f"{s.name} {100 * rate(s, lowest):.1f}%" for s in tune))
        else:
            print(f"  {lang}: {t}  (" + ", ".join(f"{s.name} {100 * rate(s, t):.1f}%" for s in tune) + ")")
    print(f"recommended (one setting for both languages): {chosen if chosen is not None else 'none'}"
          + ("" if len(passing) == len(per_lang) else
             f"  -- NOT met for: {', '.join(lang for lang, t in per_lang.items() if t is None)}"))
    at = args.at if args.at is not None else (chosen if chosen is not None else configured)
    print(f"\nAT t = {at:.2f}: k/n triggered, with the 95% Wilson upper bound for ordinary sets")
    for s in sets:
        k = int(np.sum(s.scores <= at + 1e-12))
        extra = f"  (<= {100 * wilson_upper(k, len(s.texts)):.1f}% at 95%)" if s.kind == "ordinary" else ""
        print(f"  {s.kind:<9}{s.role:<9}{s.name[:39]:<40}{k:>5}/{len(s.texts):<5} {100 * k / len(s.texts):5.1f}%"
              + extra)

    detail = sorted({round(t, 2) for t in (-0.5, -0.7, -0.8, -0.9, -0.95, configured, at)}, reverse=True)
    for s in sets:
        if len(set(s.tags)) > 3 and s.name.startswith(("bitext", "banking77", "clinc150", "nlu.yml")):
            print_intents(s, detail, top=12)
    for s in sets:
        print_examples(s, at, args.examples)
    print(f"\ntotal {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
