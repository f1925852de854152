"""How soon the first streamed sentence of an answer is visible in the website widget.

Target: in the browser, the first streamed sentence is visible within the language
model's first-sentence time plus 100 ms.

What it does
------------
It starts its own Redis and one bot process exactly as bench/widget_sockets.py does
(`shopkeep --config COPY run --workers 1`, the demo store, the widget's rate limits raised),
with the language model packaged:qwen2.5-0.5b by default (--lm none: answers quote the store's
text only), and asks ~20 English FAQ questions that get knowledge answers, each in a fresh
conversation, two ways:

  (a) server side: a raw WebSocket client (aiohttp, in this process) sends
      {"type": "message", "client_id", "text"} and stamps each frame as it arrives: the first
      "partial" frame (the first checked sentence: the store's own first sentence), a later
      partial that is the language model's one-sentence summary (when one streams), the
      first "bot" entry (the whole answer) and "typing off" (end of the turn);
  (b) in the browser: Debian's Chromium (headless, driven by Playwright) on the bot's demo page
      (GET /), the widget's panel open; the question is typed into the widget's input and sent
      with Enter. All stamps are performance.now() in the page: the Enter keydown (t0, a
      capture listener on window), WebSocket frames sent and received (a WebSocket subclass
      installed before widget.js runs), and a MutationObserver on the document that stamps
      the moment the provisional bubble ([data-provisional][data-reply-to=<client_id>], made
      by the widget's onPartial) holds each new sentence, and again in the next animation
      frame (the frame that paints it: "visible"). The final bot bubble ([data-entry-id]) is
      stamped the same way.

Per question, then p50/p95 over the questions:

  a first        send -> first partial frame (raw client)
  b first        Enter -> first sentence visible (next frame after the DOM had it)
  b - a          the widget's share, across the two runs of the same question (target <= 100 ms)
  widget own     the same run's in-page share: Enter -> ws.send, plus partial frame received ->
                 visible; b - a also holds the network path of the browser and run-to-run noise
  summary        the same for the model's summary sentence, when one streams: the last partial,
                 after the store's sentences, and not one of the knowledge's sentences
  final          send or Enter -> the whole answer (a: bot entry frame; b: its bubble in the DOM)

The two runs of a question alternate in order (raw first for even questions, browser first for
odd ones), so neither side always gets llama.cpp's cache of the previous prompt. A few warm-up
questions (not counted) run first in each mode. Everything runs on the same machine: the
browser, this client and the bot share the cores.

    .venv/bin/python bench/widget_latency.py
    .venv/bin/python bench/widget_latency.py --lm none --json /tmp/latency.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from tqdm import tqdm

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO)]

from load import BenchError, percentile  # noqa: E402
from widget_sockets import Bot, machine, with_bot  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# Shopper phrasings of the demo store's FAQ (knowledge/demo/faq.json): each gets a knowledge answer.
QUESTIONS = [
    "How long does shipping take?", "How much does shipping cost?", "Do you ship internationally?",
    "Can you deliver to a PO box?", "Which carriers do you use?", "How do I track my package?",
    "What is your return policy?", "Are returns free?", "When will I get my refund?",
    "Can I return items bought on sale?", "What payment methods do you accept?", "Can I pay in installments?",
    "When is my card charged?", "Which currency are prices in?", "How do I use a promo code?",
    "Do you price match?", "Do you sell gift cards?", "Can I cancel my order?",
    "Do you have a physical store?", "Is your packaging recyclable?",
]
# Waiting for the turn polls the page this often (not every frame: the browser shares the bot's cores).
# The stamps do not depend on it: they come from listeners and a MutationObserver in the page.
POLL_MS = 50
WARMUP = ["Do your products have a warranty?", "Can I get an invoice for my order?", "How do I create an account?"]

# Installed before any page script: stamps Enter, WebSocket frames and the widget's bubbles.
PAGE_HOOKS = r"""
(() => {
  const B = window.__bench = { enter: null, sent: [], frames: [], visible: {}, entries: {} };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', ev => { // runs before the widget's onmessage
        const t = performance.now();
        try {
          const f = JSON.parse(ev.data);
          B.frames.push({ t, type: f.type, reply_to: f.reply_to || null, role: f.role || null, id: f.id || null,
                          on: f.on, text: f.type === 'partial' ? f.text : null });
        } catch (e) { /* not JSON */ }
      });
    }
    send(data) {
      const t = performance.now();
      try { const f = JSON.parse(data); if (f.type === 'message') B.sent.push({ t, client_id: f.client_id }); }
      catch (e) { /* not JSON */ }
      return super.send(data);
    }
  };
  addEventListener('keydown', e => { if (e.key === 'Enter') B.enter = performance.now(); }, true);
  const frame = item => requestAnimationFrame(() => { item.frame = performance.now(); });
  new MutationObserver(() => {
    const t = performance.now();
    for (const node of document.querySelectorAll('[data-provisional][data-reply-to]')) {
      const rt = node.getAttribute('data-reply-to'), text = node.textContent;
      const seen = B.visible[rt] || (B.visible[rt] = []);
      if (text && (!seen.length || seen[seen.length - 1].text !== text)) {
        const item = { t, text, frame: null };
        seen.push(item);
        frame(item);
      }
    }
    for (const node of document.querySelectorAll('[data-from=bot][data-entry-id]')) {
      const id = node.getAttribute('data-entry-id');
      if (!B.entries[id]) { B.entries[id] = { t, frame: null }; frame(B.entries[id]); }
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();
"""


def normalise(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def store_sentences(bot: Bot) -> set[str]:
    """Every sentence of the knowledge the bot answers from, normalised, with and without a leading
    "Yes"/"No" (the bot drops it): a partial that is one of them is the store's, else the model's."""
    from knowledge.compose import _YES_NO, split_sentences
    from knowledge.documents import load_passages

    out: set[str] = set()
    for source in bot.settings.knowledge.sources:
        paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for path in paths:
            try:
                passages = load_passages(path)
            except Exception:  # noqa: BLE001 (a file the bot would skip too)
                continue
            for passage in passages:
                for sentence in split_sentences(passage.text):
                    out |= {normalise(sentence), normalise(_YES_NO.sub("", sentence, count=1))}
    return out


def summary_index(partials: list[str], store: set[str], lm: str) -> int | None:
    """Which partial is the model's summary: it comes last, after the store's sentences (at least one),
    and is not one of the store's sentences (knowledge/answers.py, KnowledgeAnswerer.answer)."""
    if lm == "none" or len(partials) < 2 or normalise(partials[-1]) in store:
        return None
    return len(partials) - 1


@dataclass
class Sample:
    question: str
    first_ms: float | None = None  # first partial
    summary_ms: float | None = None  # the model's summary partial, when one streamed
    final_ms: float | None = None  # the whole answer
    end_ms: float | None = None  # typing off (a) / the final bubble's frame (b)
    partials: int = 0
    summary_text: str | None = None
    first_text: str | None = None
    first_dom_ms: float | None = None  # b: the DOM had it (before the frame that paints it)
    widget_ms: float | None = None  # b: Enter -> ws.send + partial received -> visible
    send_ms: float | None = None  # b: Enter -> ws.send
    server_ms: float | None = None  # b: ws.send -> the first partial frame received (the bot and the network)
    render_ms: float | None = None  # b: the first partial frame received -> visible
    error: str | None = None


# ---------------------------------------------------------------------------
# (a) raw WebSocket client


async def ask_raw(http: aiohttp.ClientSession, bot: Bot, question: str, timeout: float, store: set[str],
                  lm: str) -> Sample:
    sample = Sample(question)
    async with http.ws_connect(bot.ws_url, headers={"Origin": bot.base}, max_msg_size=4 << 20) as ws:
        welcome = await asyncio.wait_for(ws.receive_json(), timeout)
        if welcome.get("type") != "welcome":
            raise BenchError(f"first frame is not a welcome: {welcome}")
        client_id = uuid.uuid4().hex
        partials: list[tuple[float, str]] = []
        t0 = time.perf_counter()
        await ws.send_json({"type": "message", "client_id": client_id, "text": question})
        deadline = t0 + timeout
        while True:
            msg = await asyncio.wait_for(ws.receive(), max(0.01, deadline - time.perf_counter()))
            now = time.perf_counter()
            if msg.type != aiohttp.WSMsgType.TEXT:
                sample.error = f"socket closed ({msg.type.name})"
                break
            f = json.loads(msg.data)
            if f.get("type") == "partial" and f.get("reply_to") == client_id:
                partials.append((now, f.get("text", "")))
            elif f.get("type") == "entry" and f.get("role") == "bot" and f.get("reply_to") == client_id:
                if sample.final_ms is None:
                    sample.final_ms = (now - t0) * 1000
                await ws.send_json({"type": "ack", "id": f["id"]})
            elif f.get("type") == "error":
                sample.error = f"{f.get('status')}: {f.get('error')}"
            elif f.get("type") == "typing" and not f.get("on"):
                sample.end_ms = (now - t0) * 1000
                break
    sample.partials = len(partials)
    if partials:
        sample.first_ms = (partials[0][0] - t0) * 1000
        sample.first_text = partials[0][1]
        k = summary_index([p[1] for p in partials], store, lm)
        if k is not None:
            sample.summary_ms = (partials[k][0] - t0) * 1000
            sample.summary_text = partials[k][1]
    return sample


# ---------------------------------------------------------------------------
# (b) the widget in Chromium


class Browser:
    def __init__(self, bot: Bot, headless: bool = True):
        self.bot = bot
        self.headless = headless
        self._pw = self.browser = self.page = None
        self.console: list[str] = []

    async def start(self) -> None:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self.browser = await self._pw.chromium.launch(executable_path=CHROMIUM, headless=self.headless,
                                                      args=CHROMIUM_ARGS)
        self.page = await self.browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}") if m.type in (
            "error", "warning") and not m.text.startswith("Failed to load resource") else None)
        self.page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))
        self.page.on("response", lambda r: self.console.append(f"HTTP {r.status} {r.url}") if r.status >= 400
                     else None)
        await self.page.add_init_script(PAGE_HOOKS)
        await self.page.goto(f"{self.bot.base}/")
        await self.page.wait_for_function("() => window.ShopkeepWidget")
        await self.page.evaluate("() => ShopkeepWidget.open()")
        await self.page.wait_for_function("() => ShopkeepWidget.connected", timeout=30000)

    async def stop(self) -> None:
        if self.browser is not None:
            await self.browser.close()
        if self._pw is not None:
            await self._pw.stop()

    async def ask(self, question: str, timeout: float, store: set[str], lm: str) -> Sample:
        page = self.page
        sample = Sample(question)
        # a fresh conversation, like the raw client's; reset() reconnects at once
        await page.evaluate("() => ShopkeepWidget.reset()")
        await page.wait_for_function("() => ShopkeepWidget.connected", timeout=timeout * 1000)
        await page.fill("[data-role=input]", question)
        sent_before = await page.evaluate("() => __bench.sent.length")
        await page.press("[data-role=input]", "Enter")
        await page.wait_for_function("n => __bench.sent.length > n", arg=sent_before, timeout=timeout * 1000,
                                     polling=POLL_MS)
        client_id = await page.evaluate("() => __bench.sent[__bench.sent.length - 1].client_id")
        # the turn ends with "typing off" after the bot's entries; then two frames for the stamps
        await page.wait_for_function(
            """cid => { const B = __bench, i = B.frames.findIndex(f => f.type === 'entry' && f.role === 'bot'
                          && f.reply_to === cid);
                        return i >= 0 && B.frames.slice(i).some(f => f.type === 'typing' && f.on === false); }""",
            arg=client_id, timeout=timeout * 1000, polling=POLL_MS)
        await page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        data = await page.evaluate(
            """cid => { const B = __bench;
                        return { t0: B.enter, sent: B.sent.find(s => s.client_id === cid).t,
                                 frames: B.frames.filter(f => f.reply_to === cid),
                                 visible: B.visible[cid] || [], entries: B.entries }; }""", client_id)
        t0 = data["t0"]
        partial_frames = [f for f in data["frames"] if f["type"] == "partial"]
        visible = data["visible"]
        sample.partials = len(partial_frames)
        if visible:
            first = visible[0]
            sample.first_text = first["text"]
            sample.first_dom_ms = first["t"] - t0
            sample.first_ms = (first["frame"] or first["t"]) - t0
            if partial_frames:
                sample.send_ms = data["sent"] - t0
                sample.server_ms = partial_frames[0]["t"] - data["sent"]
                sample.render_ms = (first["frame"] or first["t"]) - partial_frames[0]["t"]
                sample.widget_ms = sample.send_ms + sample.render_ms
            k = summary_index([f["text"] for f in partial_frames], store, lm)
            if k is not None and k < len(visible):
                sample.summary_ms = (visible[k]["frame"] or visible[k]["t"]) - t0
                sample.summary_text = partial_frames[k]["text"]
        bot_entries = [f for f in data["frames"] if f["type"] == "entry" and f["role"] == "bot"]
        if bot_entries and (node := data["entries"].get(bot_entries[0]["id"])):
            sample.final_ms = node["t"] - t0
            sample.end_ms = (node["frame"] or node["t"]) - t0
        return sample


# ---------------------------------------------------------------------------
# The run and the report


@dataclass
class Row:
    question: str
    raw: Sample
    browser: Sample
    order: str  # which ran first

    @property
    def overhead_ms(self) -> float | None:
        return None if self.raw.first_ms is None or self.browser.first_ms is None \
            else self.browser.first_ms - self.raw.first_ms

    @property
    def summary_overhead_ms(self) -> float | None:
        return None if self.raw.summary_ms is None or self.browser.summary_ms is None \
            else self.browser.summary_ms - self.raw.summary_ms


async def run_latency(args: argparse.Namespace, bot: Bot) -> dict[str, Any]:
    store = store_sentences(bot)
    load_start = os.getloadavg()[0]
    questions = [q for _ in range(args.repeats) for q in args.questions]
    browser = Browser(bot, headless=not args.headed)
    rows: list[Row] = []
    async with aiohttp.ClientSession() as http:
        await browser.start()
        try:
            for q in tqdm(WARMUP[:args.warmup], desc="warm-up", unit="question", leave=False, file=sys.stderr):
                await ask_raw(http, bot, q, args.timeout, store, args.lm)
                await browser.ask(q, args.timeout, store, args.lm)
            for i, q in enumerate(tqdm(questions, desc="questions", unit="question", leave=False, file=sys.stderr)):
                if i % 2 == 0:
                    raw = await _guarded(ask_raw(http, bot, q, args.timeout, store, args.lm), q)
                    seen = await _guarded(browser.ask(q, args.timeout, store, args.lm), q)
                else:
                    seen = await _guarded(browser.ask(q, args.timeout, store, args.lm), q)
                    raw = await _guarded(ask_raw(http, bot, q, args.timeout, store, args.lm), q)
                rows.append(Row(q, raw, seen, "raw first" if i % 2 == 0 else "browser first"))
        finally:
            await browser.stop()
    result = figures(args, bot, rows, browser.console)
    result["machine"] = machine(load_start)
    return result


async def _guarded(ask, question: str) -> Sample:
    """One question's sample; a failure (a timeout, a closed socket) is recorded, not raised."""
    try:
        return await ask
    except Exception as exc:  # noqa: BLE001
        return Sample(question, error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")


def pcts(values: list[float | None]) -> dict[str, float | None]:
    vals = [v for v in values if v is not None]
    return {"n": len(vals), **{f"p{q}": None if (v := percentile(vals, q)) is None else round(v, 1)
                               for q in (50, 95)}}


def figures(args: argparse.Namespace, bot: Bot, rows: list[Row], console: list[str]) -> dict[str, Any]:
    a, b = [r.raw for r in rows], [r.browser for r in rows]
    return {
        "config": {"lm": args.lm, "lm_status": bot.health.get("models", {}).get("lm"), "questions": len(rows),
                   "repeats": args.repeats, "warmup": args.warmup, "workers": 1, "chromium": CHROMIUM},
        "summary_ms": {
            "a_first": pcts([s.first_ms for s in a]),
            "b_first": pcts([s.first_ms for s in b]),
            "b_first_dom": pcts([s.first_dom_ms for s in b]),
            "b_minus_a_first": pcts([r.overhead_ms for r in rows]),
            "widget_own": pcts([s.widget_ms for s in b]),
            "b_send": pcts([s.send_ms for s in b]),
            "b_server": pcts([s.server_ms for s in b]),
            "b_render": pcts([s.render_ms for s in b]),
            "a_summary": pcts([s.summary_ms for s in a]),
            "b_summary": pcts([s.summary_ms for s in b]),
            "b_minus_a_summary": pcts([r.summary_overhead_ms for r in rows]),
            "a_final": pcts([s.final_ms for s in a]),
            "b_final": pcts([s.final_ms for s in b]),
        },
        "target_met": {  # b - a <= 100 ms at p95
            "first": (v := pcts([r.overhead_ms for r in rows])["p95"]) is not None and v <= 100,
        },
        "no_partial": [r.question for r in rows if r.raw.partials == 0 or r.browser.partials == 0],
        "with_summary": {"a": sum(s.summary_ms is not None for s in a), "b": sum(s.summary_ms is not None for s in b)},
        "errors": [f"{r.question}: {s.error}" for r in rows for s in (r.raw, r.browser) if s.error],
        "browser_console": console[:20],
        "rows": [{"question": r.question, "order": r.order, "a": asdict(r.raw), "b": asdict(r.browser),
                  "b_minus_a_first_ms": _r(r.overhead_ms), "b_minus_a_summary_ms": _r(r.summary_overhead_ms)}
                 for r in rows],
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _n(v: float | None, width: int = 6) -> str:
    return f"{'-':>{width}}" if v is None else f"{v:{width}.0f}"


def report(f: dict[str, Any]) -> str:
    c, s = f["config"], f["summary_ms"]
    lines = ["", "== shopkeep widget latency bench ==",
             f"config: lm {c['lm']} ({c['lm_status']}), {c['questions']} questions (+{c['warmup']} warm-up), "
             f"1 worker, Chromium headless; all ms",
             "a: raw WebSocket client, send -> frame; b: browser, Enter -> visible (next frame); "
             "own: the widget's in-page share of b (Enter -> ws.send + frame -> visible); b srv: the rest of b "
             "(ws.send -> frame); sum: the model's summary sentence; all: the whole answer",
             f"{'question':<36} {'a 1st':>6} {'b 1st':>6} {'b-a':>6} {'own':>5} {'b srv':>6} {'a sum':>6} "
             f"{'b sum':>6} {'b-a':>6} {'a all':>6} {'b all':>6}"]
    for r in f["rows"]:
        a, b = r["a"], r["b"]
        lines.append(f"{r['question'][:36]:<36} {_n(a['first_ms'])} {_n(b['first_ms'])} "
                     f"{_n(r['b_minus_a_first_ms'])} {_n(b['widget_ms'], 5)} {_n(b['server_ms'])} "
                     f"{_n(a['summary_ms'])} {_n(b['summary_ms'])} {_n(r['b_minus_a_summary_ms'])} "
                     f"{_n(a['final_ms'])} {_n(b['final_ms'])}")
    lines.append("")
    names = {"a_first": "a first partial (server side)", "b_first": "b first sentence visible (browser)",
             "b_first_dom": "b first sentence in the DOM", "b_minus_a_first": "b - a, first sentence",
             "widget_own": "widget's own share (same run)", "b_send": "  of it: Enter -> ws.send",
             "b_render": "  of it: partial frame -> visible", "b_server": "b ws.send -> partial frame (bot)",
             "a_summary": "a model summary partial",
             "b_summary": "b model summary visible", "b_minus_a_summary": "b - a, summary",
             "a_final": "a whole answer (bot entry)", "b_final": "b whole answer in the DOM"}
    for key, label in names.items():
        v = s[key]
        lines.append(f"{label:<36} p50 {_n(v['p50'])}  p95 {_n(v['p95'])}  (n={v['n']})")
    target = "met" if f["target_met"]["first"] else "NOT met"
    lines.append(f"target b - a <= 100 ms (p95, first sentence): {target}")
    lines.append(f"summaries streamed: a {f['with_summary']['a']}, b {f['with_summary']['b']} of {c['questions']}")
    if f["no_partial"]:
        lines.append(f"no partial (not a streamed knowledge answer): {', '.join(f['no_partial'])}")
    if "machine" in f:
        m = f["machine"]
        lines.append(f"machine: {m['cpus']} CPUs, 1-minute load average {m['load_avg_1m_start']} at the start, "
                     f"{m['load_avg_1m_end']} at the end (bot, browser and client share them)")
    for e in f["errors"][:5]:
        lines.append(f"error: {e}")
    for e in f["browser_console"][:5]:
        lines.append(f"browser: {e[:160]}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/widget_latency.py",
        description="Time to the first streamed sentence of a knowledge answer: server side (a raw WebSocket "
                    "client) and visible in the website widget in Chromium, and the widget's share (b - a). "
                    "Starts its own Redis and bot (shopkeep run --workers 1).",
        epilog="See the module docstring for exactly what is stamped where.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--lm", default="packaged:qwen2.5-0.5b", metavar="SPEC",
                        help="SHOPKEEP_LM_MODEL for the bot; 'none': no model (no summary sentence)")
    parser.add_argument("--questions", nargs="+", metavar="Q", default=argparse.SUPPRESS,
                        help="questions to ask, English knowledge questions (default: 20 shopper phrasings of the "
                             "demo store's FAQ, QUESTIONS in this file)")
    parser.add_argument("--repeats", type=int, default=1, metavar="R", help="ask every question R times")
    parser.add_argument("--warmup", type=int, default=2, metavar="W", choices=range(len(WARMUP) + 1),
                        help="warm-up questions per mode, not counted")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds one question may take")
    parser.add_argument("--headed", action="store_true", help="show the browser (needs a display)")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data", metavar="DIR",
                        help="SHOPKEEP_DATA_DIR for the bot; trained models there are reused")
    parser.add_argument("--start-timeout", type=float, default=180.0, metavar="S",
                        help="seconds for the bot to start")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH ('-': stdout, "
                                                       "instead of the table)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (config, logs, Redis files)")
    args = parser.parse_args(argv)
    args.questions = getattr(args, "questions", None) or QUESTIONS
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"bench/widget_latency.py: no Chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    result = with_bot(args, "bench/widget_latency.py", run_latency, "the bot, its Redis and the browser are")
    if isinstance(result, int):
        return result
    if args.json == "-":
        print(json.dumps(result, indent=1))
    else:
        print(report(result))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
            print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
