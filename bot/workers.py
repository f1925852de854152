"""Several server processes on one port: `shopkeep run --workers N`.

The parent loads the models and answering's dictionaries once (training or
indexing first if the data changed), then forks the workers, so they share
them copy-on-write instead of holding a copy each. Each worker serves the app on its own socket
bound with SO_REUSEPORT: the kernel spreads new connections evenly over the
workers' sockets. (Measured: with gunicorn's single shared socket, whichever
worker was awake accepted most of a burst of keep-alive connections; one
worker did twice the other's work and throughput swung between 172 and 260
turns/s from run to run.) Each worker opens its own Redis pool and loads its
own language model; a llama.cpp GGUF is memory-mapped, so its weights are
shared through the page cache too.

The parent restarts a worker that dies and stops them all on SIGTERM/SIGINT.
Each worker runs torch on one thread: the workers are the parallelism, and an
OpenMP thread pool started in the parent does not survive a fork (a worker
that used two threads hung on its first message).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import socket
import time
from dataclasses import replace

from bot.config import Config

log = logging.getLogger(__name__)

CRASH_WINDOW_S = 10.0  # a worker that dies this soon after starting...
MAX_QUICK_CRASHES = 5  # ...this many times in a row stops the server instead of restarting forever


def _return_free_memory() -> None:
    """Give the parent's freed heap back to the system before forking (glibc's
    malloc_trim). Otherwise the workers' allocator reuses those free pages,
    copying each into every worker: loading the dictionaries in the parent
    then cost 200 MB more in total than loading them in each worker; with the
    trim it saved about 100 MB (PSS, two workers, Qwen 0.5B)."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


class WorkerCrashLoop(Exception):
    """Workers kept dying right after they started."""


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def _stop_with_parent(parent: int) -> None:
    """Linux: SIGTERM this worker when its parent dies, however it dies (an out-of-memory kill, kill -9):
    an orphaned worker would keep serving unsupervised and keep the data directory's Redis claimed."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's normal stop still stops the workers
        return
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(config: Config, models, parent: int) -> None:
    """The body of one forked worker; never returns."""
    import torch
    from aiohttp import web

    from bot.server import AccessLog, init_app

    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _stop_with_parent(parent)
        torch.set_num_threads(1)
        server = config.server
        web.run_app(init_app(config, models), host=server.host, port=server.port, reuse_port=True,
                    print=None, access_log_class=AccessLog)
    except (KeyboardInterrupt, SystemExit):  # stopped (aiohttp's GracefulExit), even while starting
        pass
    except BaseException:
        log.exception("worker %d failed", os.getpid())
        code = 1
    finally:
        os._exit(code)  # never run the parent's clean-up (it owns the embedded Redis)


class Workers:
    """Forks and supervises `count` workers serving init_app(config, models)."""

    def __init__(self, config: Config, models, count: int):
        self.config, self.models, self.count = config, models, count
        self.pids: dict[int, float] = {}  # pid -> start time
        self.stopping = False
        self.quick_crashes = 0

    def spawn(self) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            _worker(self.config, self.models, parent)
        self.pids[pid] = time.monotonic()
        log.info("worker %d started", pid)

    def stop(self, signum=None, frame=None) -> None:
        self.stopping = True
        for pid in list(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self) -> None:
        """Start the workers and wait; returns once all have stopped after stop()."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        for _ in range(self.count):
            self.spawn()
        while self.pids:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            started = self.pids.pop(pid, None)
            if started is None:  # not a worker (e.g. a process a library started)
                continue
            if self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            self.quick_crashes = self.quick_crashes + 1 if time.monotonic() - started < CRASH_WINDOW_S else 0
            if self.quick_crashes >= MAX_QUICK_CRASHES:
                self.stop()
                raise WorkerCrashLoop(f"workers died {self.quick_crashes} times right after starting "
                                      f"(last exit code {code}); see the log")
            log.error("worker %d exited with %s; starting another", pid, code)
            self.spawn()


def check_port_free(host: str, port: int) -> None:
    """Raise OSError with a clear message when host:port cannot be bound, before
    any model is loaded (otherwise every worker would die at start)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(config: Config, workers: int) -> None:
    """Serve on config.server.host:port with `workers` processes until SIGTERM/SIGINT.

    Without a REDIS_URL the embedded Redis is started here, once, for all
    workers. Raises WorkerCrashLoop when workers keep dying at start."""
    from bot.assembly import load_models
    from bot.sessions.embedded_redis import EmbeddedRedis

    check_port_free(config.server.host, config.server.port)
    stop_requested = []

    def stop_while_starting(signum, frame):
        # loading takes seconds: a stop then must still stop the embedded Redis (the finally below)
        stop_requested.append(signum)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop_while_starting)
    signal.signal(signal.SIGINT, stop_while_starting)
    embedded = None
    try:
        if not config.sessions.redis_url:
            embedded = EmbeddedRedis(config.data_dir / "redis")
            config = replace(config, sessions=replace(config.sessions, redis_url=embedded.start()))
        models = load_models(config, with_lm=False)
        models.answerer.warm_up()  # the spelling and Chinese dictionaries, shared by the workers
        gc.collect()
        _return_free_memory()
        # Keep the garbage collector off the loaded objects: its passes write to every
        # object they visit, which copies the shared pages into each worker.
        gc.freeze()
        if stop_requested:  # a library swallowed the SystemExit: stop anyway, before forking
            raise SystemExit(128 + stop_requested[0])
        if workers > 1 and config.channels.widget.enabled and config.channels.widget.socketio:
            log.warning("socket.io (rasa-webchat) starts with HTTP long-polling, which needs every request of a "
                        "connection on the same process: with %d workers use a sticky load balancer, or --workers 1 "
                        "(the website widget is not affected)", workers)
        log.info("models loaded once; forking %d workers", workers)
        Workers(config, models, workers).run()
    finally:
        if embedded:
            embedded.stop()
