"""The `shopkeep` command: help everywhere, and `shopkeep run` serving for real."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.helpers import free_port

SHOPKEEP = [sys.executable, "-m", "bot.cli"]


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["prepare", "--help"], ["channels", "--help"]])
def test_every_subcommand_has_help(args):
    out = subprocess.run(SHOPKEEP + args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "usage: shopkeep" in out.stdout


def test_a_bad_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("servers: {}\n")
    out = subprocess.run(SHOPKEEP + ["--config", str(bad), "prepare"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown section(s): servers" in out.stderr


def test_zero_workers_is_refused(tmp_path):
    env = {**os.environ, "SHOPKEEP_DATA_DIR": str(tmp_path)}
    out = subprocess.run(SHOPKEEP + ["run", "--workers", "0"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2 and "--workers must be at least 1" in out.stderr


def test_a_port_in_use_is_one_clear_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "SHOPKEEP_DATA_DIR": str(tmp_path)}
        out = subprocess.run(SHOPKEEP + ["run", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                             capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.integration
def test_shopkeep_run_serves_a_grounded_answer_with_embedded_redis_and_a_real_model(tmp_path):
    port = free_port()
    env = {**os.environ, "SHOPKEEP_DATA_DIR": str(tmp_path), "SHOPKEEP_LM_MODEL": "packaged:smollm2-135m"}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(SHOPKEEP + ["run", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    health = json.load(resp)
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.5)
        assert health["redis"] == "ok" and health["models"]["lm"].startswith("SmolLM2")
        body = json.dumps({"sender": "a", "message": "how long does shipping take?"}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=body)
        with urllib.request.urlopen(request, timeout=60) as resp:
            reply = json.load(resp)
        assert reply[0]["custom"]["sources"] == ["shipping-times"]
        # the README's first example keeps both tiers (issue 9): never only the express figure
        assert "3 to 5 business days" in reply[0]["text"] and "Express shipping takes 1 to 2" in reply[0]["text"]
        assert (tmp_path / "redis" / "appendonly.aof").exists()
        assert (tmp_path / "logs" / "shopkeep.log").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # a clean stop also stops the embedded Redis (it removes its pid file on exit)
    deadline = time.monotonic() + 10
    while (tmp_path / "redis" / "redis.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (tmp_path / "redis" / "redis.pid").exists()


@pytest.mark.integration
@pytest.mark.parametrize("signum, after_s", [(signal.SIGTERM, 0), (signal.SIGINT, 0), (signal.SIGTERM, 2),
                                             (signal.SIGINT, 2)])
def test_a_stop_while_the_models_load_also_stops_the_embedded_redis(tmp_path, signum, after_s):
    """Stopped while Redis starts (0 s) or while the intent model trains (2 s)."""
    env = {**os.environ, "SHOPKEEP_DATA_DIR": str(tmp_path), "SHOPKEEP_LM_MODEL": "none"}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(SHOPKEEP + ["run", "--host", "127.0.0.1", "--port", str(free_port()), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pidfile = tmp_path / "redis" / "redis.pid"
    deadline = time.monotonic() + 60
    while not pidfile.exists():  # Redis is up; the intent model is being trained
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(after_s)
    redis_pid = int(pidfile.read_text())
    proc.send_signal(signum)
    assert proc.wait(timeout=30) != 0
    deadline = time.monotonic() + 10
    while _alive(redis_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(redis_pid), "the embedded Redis was left running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_second_run_on_a_data_directory_in_use_is_one_clear_line(tmp_path):
    from bot.sessions.embedded_redis import EmbeddedRedis

    running = EmbeddedRedis(tmp_path / "redis")  # as a first `shopkeep run` on this data directory holds it
    running.start()
    try:
        env = {**os.environ, "SHOPKEEP_DATA_DIR": str(tmp_path), "SHOPKEEP_LM_MODEL": "none"}
        out = subprocess.run(SHOPKEEP + ["run", "--host", "127.0.0.1", "--port", str(free_port()), "--workers", "1"],
                             capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 2 and "another shopkeep" in out.stderr and "Traceback" not in out.stderr
        assert running._process.poll() is None  # the first one's Redis is still running
    finally:
        running.stop()
