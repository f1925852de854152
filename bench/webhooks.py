#!/usr/bin/env python3
"""Messaging webhooks under load: how fast the bot acknowledges a platform's
webhook while it is busy answering other conversations, and whether every
event is answered exactly once.

Measured over loopback against one bot process (`shopkeep run --workers 1`,
its own Redis), with Telegram as the platform (the other adapters share the
same acknowledgement path, bot/channels/webhooks.py):

  busy load     B REST conversations ask knowledge questions back to back
                for the whole run (the bot's CPU is busy with their turns;
                with --lm, with the language model too)
  webhooks      U Telegram updates, signed with the secret, at R per second,
                each from its own chat; a share of them (--redeliver) is sent
                again, as Telegram does when it misses an acknowledgement
  send API      a local stand-in for the Bot API records each sendMessage

Reported: acknowledgement latency (request sent -> HTTP 200) p50/p95/p99;
reply latency (update sent -> the stand-in receives the answer); events
answered exactly once, lost, answered twice; the busy conversations' turns
per second. The issue's target: acknowledgement p95 at most 50 ms.

Exit status 1 when an event was lost or answered twice, or a webhook got a
status other than 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from tqdm import tqdm

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO)]

from load import free_port  # noqa: E402
from widget_sockets import fmt_ms, pct_ms, with_bot  # noqa: E402

TOKEN, SECRET = "1000:bench-token", "bench-secret"
# Questions whose answer is one message: one sendMessage per answered update.
QUESTIONS = ["Do you accept PayPal?", "How long does shipping take?", "What is your return policy?",
             "Can I pay in instalments?", "Do you ship to Canada?", "How much does shipping cost?"]
BUSY_QUESTIONS = ["What is your return policy?", "Do you sell a Dutch oven?", "How long does shipping take?",
                  "Can I return a sale item?", "Do you price match?", "Is the wool scarf in stock?"]


class TelegramStandIn:
    """The Bot API's sendMessage (and the calls around it), recording the time each chat got a message."""

    def __init__(self, port: int):
        self.port = port
        self.replies: dict[str, list[float]] = {}
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if request.match_info["method"] in ("sendMessage", "sendPhoto"):
            self.replies.setdefault(str(body["chat_id"]), []).append(time.monotonic())
        return web.json_response({"ok": True, "result": {"message_id": 1}})


def update(update_id: int, chat_id: int, text: str) -> bytes:
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": chat_id, "type": "private"}, "from": {"id": chat_id, "first_name": "Bench"}}}).encode()


async def busy_loop(session: aiohttp.ClientSession, base: str, n: int, stop: asyncio.Event, done: list) -> None:
    turn = 0
    while not stop.is_set():
        turn += 1
        text = BUSY_QUESTIONS[(n + turn) % len(BUSY_QUESTIONS)]
        try:
            async with session.post(f"{base}/webhooks/rest/webhook",
                                    json={"sender": f"busy-{n}", "message": text}) as resp:
                await resp.read()
                if resp.status == 200:
                    done.append(time.monotonic())
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)


async def run_webhooks(args: argparse.Namespace, bot) -> dict[str, Any]:
    stand_in = TelegramStandIn(args.api_port)
    await stand_in.start()
    rng = random.Random(args.seed)
    stop = asyncio.Event()
    busy_done: list[float] = []
    acks: list[float] = []
    statuses: dict[int, int] = {}
    sent_at: dict[str, float] = {}
    redelivered: set[str] = set()
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        busy = [asyncio.create_task(busy_loop(session, bot.base, n, stop, busy_done)) for n in range(args.busy)]
        await asyncio.sleep(args.warmup_s)  # the busy conversations are under way
        busy_start, busy_before = time.monotonic(), len(busy_done)

        async def post(body: bytes) -> None:
            started = time.monotonic()
            async with session.post(f"{bot.base}/webhooks/telegram", data=body, headers=headers) as resp:
                await resp.read()
                acks.append(time.monotonic() - started)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1

        posts = []
        for i in tqdm(range(args.updates), desc="webhooks", unit="update", file=sys.stderr):
            chat = 10_000 + i
            body = update(500_000 + i, chat, QUESTIONS[i % len(QUESTIONS)])
            sent_at[str(chat)] = time.monotonic()
            posts.append(asyncio.create_task(post(body)))
            if rng.random() < args.redeliver:
                redelivered.add(str(chat))
                posts.append(asyncio.create_task(_later(rng.uniform(0.05, 1.0), post(body))))
            await asyncio.sleep(1 / args.rate)
        await asyncio.gather(*posts)
        deadline = time.monotonic() + args.settle_s
        while time.monotonic() < deadline and len(stand_in.replies) < len(sent_at):
            await asyncio.sleep(0.2)
        await asyncio.sleep(min(2.0, args.settle_s))  # a late duplicate would arrive now
        busy_wall = time.monotonic() - busy_start
        busy_turns = len(busy_done) - busy_before
        stop.set()
        await asyncio.gather(*busy, return_exceptions=True)
    await stand_in.stop()
    replies = {chat: stand_in.replies.get(chat, []) for chat in sent_at}
    lost = sorted(c for c, times in replies.items() if not times)
    twice = sorted(c for c, times in replies.items() if len(times) > 1)
    reply_latency = [times[0] - sent_at[c] for c, times in replies.items() if times]
    return {
        "updates": args.updates, "rate_per_s": args.rate, "redelivered": len(redelivered), "busy_conversations":
        args.busy, "lm": bot.health.get("models", {}).get("lm"),
        "webhook_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "ack_ms": pct_ms(acks), "ack_max_ms": round(max(acks) * 1000, 1) if acks else None,
        "reply_ms": pct_ms(reply_latency),
        "answered_once": len(replies) - len(lost) - len(twice), "lost": len(lost), "answered_twice": len(twice),
        "redelivered_answered_twice": len(set(twice) & redelivered),
        "busy_turns_per_s": round(busy_turns / busy_wall, 1) if busy_wall else None,
    }


async def _later(delay: float, coro) -> None:
    await asyncio.sleep(delay)
    await coro


def report(f: dict[str, Any]) -> str:
    return "\n".join([
        f"webhooks: {f['updates']} Telegram updates at {f['rate_per_s']}/s ({f['redelivered']} sent twice), "
        f"while {f['busy_conversations']} REST conversations kept the bot busy (lm: {f['lm']})",
        f"  acknowledgement   {fmt_ms(f['ack_ms'])} (max {f['ack_max_ms']} ms); statuses {f['webhook_statuses']}",
        f"  reply             {fmt_ms(f['reply_ms'])} (update sent -> answer at the send API)",
        f"  answered once     {f['answered_once']} of {f['updates']}; lost {f['lost']}; "
        f"answered twice {f['answered_twice']}",
        f"  busy load         {f['busy_turns_per_s']} turns/s",
        f"  target            acknowledgement p95 <= 50 ms: "
        f"{'met' if (f['ack_ms'].get('p95') or 1e9) <= 50 else 'NOT met'}",
    ])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/webhooks.py",
        description="Acknowledgement latency of the messaging webhooks while the bot is busy, and exactly-once "
                    "answers to redelivered events (Telegram, against a local Bot API stand-in).",
        epilog="Exit status 1 when an update was lost or answered twice, or a webhook was not acknowledged "
               "with 200.", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("-u", "--updates", type=int, default=200, help="Telegram updates to send")
    parser.add_argument("-r", "--rate", type=float, default=10.0, help="updates per second")
    parser.add_argument("-b", "--busy", type=int, default=8, help="REST conversations asking back to back")
    parser.add_argument("--redeliver", type=float, default=0.2, help="share of updates sent a second time")
    parser.add_argument("--warmup-s", type=float, default=3.0, help="busy load before the first update")
    parser.add_argument("--settle-s", type=float, default=120.0, help="seconds to wait for the last answers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lm", default="none", metavar="SPEC",
                        help="SHOPKEEP_LM_MODEL for the bot, e.g. packaged:qwen2.5-0.5b")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data", metavar="DIR",
                        help="SHOPKEEP_DATA_DIR for the bot; trained models there are reused")
    parser.add_argument("--start-timeout", type=float, default=180.0, metavar="S")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (config, logs, Redis files)")
    args = parser.parse_args(argv)
    if args.updates < 1 or args.rate <= 0 or args.busy < 0 or not 0 <= args.redeliver <= 1:
        parser.error("--updates >= 1, --rate > 0, --busy >= 0 and 0 <= --redeliver <= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.api_port = free_port()
    # the bot process takes the platform's secrets and API address from the environment
    os.environ.update({"SHOPKEEP_TELEGRAM_TOKEN": TOKEN, "SHOPKEEP_TELEGRAM_SECRET": SECRET,
                       "SHOPKEEP_TELEGRAM_API_URL": f"http://127.0.0.1:{args.api_port}"})
    result = with_bot(args, "bench/webhooks.py", run_webhooks, "the bot and its Redis are")
    if isinstance(result, int):
        return result
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"figures written to {args.json}")
    ok = not result["lost"] and not result["answered_twice"] and set(result["webhook_statuses"]) == {"200"}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
