"""What the HTTP action server adds to a custom action's round trip.

Runs the same action calls (the rasa-sdk protocol's JSON: tracker with a
conversation's events, the demo domain) in process and on
`python -m rasa_sdk --actions actions` over HTTP, and prints the latency of
each way (p50/p95/p99, ms) and the overhead of HTTP at p95.

    .venv/bin/python bench/actions.py [--calls 300] [--events 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import load_config  # noqa: E402
from bot.dialogue.custom_actions import InProcessActions, RemoteActions  # noqa: E402
from bot.dialogue.domain import Domain  # noqa: E402
from tests.helpers import start_action_server, stop_process  # noqa: E402


def calls(domain: Domain, events: int) -> list[dict]:
    """A status lookup of a proven order and a form validation, each with `events` earlier events."""
    history = []
    for n in range(events // 3):
        history += [{"event": "user", "text": f"question {n}", "parse_data": {"intent": {"name": "ask_question"}}},
                    {"event": "action", "name": "action_answer_from_knowledge"},
                    {"event": "bot", "text": f"answer {n}", "data": {}}]
    slots = {name: None for name in domain.slots}
    slots.update({"order_id": "SK-1002", "order_check": "verified", "verified_order": "SK-1002", "language": "en"})
    tracker = {"sender_id": "bench", "slots": slots, "latest_message": {"text": "where is my order",
                                                                        "intent": {"name": "order_status"}},
               "events": history, "paused": False, "followup_action": None, "active_loop": {},
               "latest_action_name": "order_status_form"}
    status = {"next_action": "action_order_status", "sender_id": "bench", "tracker": tracker,
              "domain": domain.raw, "version": "3.21.1"}
    validate_tracker = json.loads(json.dumps(tracker))
    validate_tracker["slots"].update({"order_check": None, "verified_order": None})
    validate_tracker["events"] = history + [{"event": "slot", "name": "order_id", "value": "sk1003"}]
    validate_tracker["active_loop"] = {"name": "order_status_form"}
    validate = {"next_action": "validate_order_status_form", "sender_id": "bench", "tracker": validate_tracker,
                "domain": domain.raw, "version": "3.21.1"}
    return [status, validate]


async def timed(runner, payloads: list[dict], n: int) -> np.ndarray:
    for payload in payloads:  # warm: imports, connections, the store's files
        await runner.run(payload)
    out = []
    for i in range(n):
        start = time.perf_counter()
        await runner.run(payloads[i % len(payloads)])
        out.append((time.perf_counter() - start) * 1000)
    return np.array(out)


def line(name: str, ms: np.ndarray) -> str:
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return f"{name:<12} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   p99 {p99:6.2f} ms"


async def main(args: argparse.Namespace) -> None:
    config = load_config()
    domain = Domain.load(config.dialogue.domain)
    payloads = calls(domain, args.events)
    data_dir = tempfile.mkdtemp(prefix="bench-actions-")
    os.environ["SHOPKEEP_DATA_DIR"] = data_dir
    local = InProcessActions("actions")
    in_process = await timed(local, payloads, args.calls)
    proc, url = start_action_server()
    try:
        remote = RemoteActions(url)
        over_http = await timed(remote, payloads, args.calls)
        await remote.close()
    finally:
        stop_process(proc)
    print(f"{args.calls} calls ({len(payloads)} kinds, {args.events} earlier events each)")
    print(line("in process", in_process))
    print(line("HTTP", over_http))
    overhead = np.percentile(over_http, 95) - np.percentile(in_process, 95)
    print(f"HTTP overhead at p95: {overhead:.2f} ms (target: at most 20 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="calls each way (default 300)")
    parser.add_argument("--events", type=int, default=60, help="earlier events in each tracker (default 60)")
    asyncio.run(main(parser.parse_args()))
