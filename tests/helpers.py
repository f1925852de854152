"""Helpers for talking to the bot in tests."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc, timeout_s: float = 60) -> None:
    """Wait until something listens on `port`; fail with the process's fate if it exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the process exited with code {proc.returncode} before listening on {port}")
            time.sleep(0.2)
    raise RuntimeError(f"nothing listened on port {port} within {timeout_s} s")


def start_action_server(env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`python -m rasa_sdk --actions actions` on a free port, once it listens: (process, webhook URL).
    `env`: variables on top of this process's (SHOPKEEP_DATA_DIR, SHOPKEEP_TODAY ...)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}/webhook"


def stop_process(proc: subprocess.Popen, wait_s: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `wait_s`."""
    proc.terminate()
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=wait_s)


async def say(client, sender: str, message: str) -> list[dict]:
    resp = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert resp.status == 200, await resp.text()
    return await resp.json()


def texts(messages: list[dict]) -> str:
    return " ".join(m.get("text", "") for m in messages)


def start_server(data_dir: Path, redis_url: str, log_path: Path, workers: int,
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """`shopkeep run --workers N` as a subprocess on a free port and the given Redis (no language model),
    once its /health answers 200: (process, port). Its output goes to `log_path`, a file, not a pipe:
    an unread pipe fills and blocks the workers. `env`: more environment variables (platform secrets)."""
    port = free_port()
    env = {**os.environ, "SHOPKEEP_DATA_DIR": str(data_dir), "SHOPKEEP_LM_MODEL": "none", "REDIS_URL": redis_url,
           **(env or {})}
    with log_path.open("w") as log:  # the child keeps its own copy of the file
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port",
                                 str(port), "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, port
        except OSError:
            pass
        assert proc.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.3)
