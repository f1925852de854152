"""Chat generation with local models, safe to call from the event loop.

One worker thread owns the model (llama.cpp contexts are not thread-safe), so
requests queue; the queue is bounded, and each request has a deadline. A
request that misses its deadline stops generating at the next token, and the
caller gets `GenerationTimeout` so it can fall back to the store's own text.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


class GenerationError(Exception):
    """Base for failures the caller should answer with a fallback."""


class GenerationTimeout(GenerationError):
    """The model did not finish before the deadline."""


class GeneratorBusy(GenerationError):
    """Too many requests are already waiting for the model."""


_DONE = object()  # end of a stream


class Generator:
    """What every backend offers: `stream` (pieces of the reply as they are
    written), `generate` (the whole reply) and `close`, with a bound on the
    requests waiting for the model. Subclasses implement `stream` and run
    its body inside `self._admitted()`."""

    name = "model"

    def __init__(self, max_waiting: int = 8):
        self._waiting = 0  # requests queued or running; bounded by max_waiting
        self._max_waiting = max_waiting

    @contextmanager
    def _admitted(self):
        """Count one request while it waits or runs; refuse it at once when too many wait."""
        if self._waiting >= self._max_waiting:
            raise GeneratorBusy(f"{self._waiting} requests already wait for the model")
        self._waiting += 1
        try:
            yield
        finally:
            self._waiting -= 1

    def stream(self, messages: list[dict], max_tokens: int = 160, timeout: float = 20.0):
        raise NotImplementedError

    async def generate(self, messages: list[dict], max_tokens: int = 160, timeout: float = 20.0) -> str:
        """The model's whole reply to a chat, or GenerationError."""
        return "".join([piece async for piece in self.stream(messages, max_tokens, timeout)]).strip()

    def close(self) -> None:
        """Release the model's resources."""


class ThreadedGenerator(Generator):
    """A local model owned by one worker thread (llama.cpp contexts and
    torch generation are not safe to share), streamed to the event loop.
    Subclasses implement `_produce`, which runs in the worker."""

    def __init__(self, max_waiting: int = 8):
        super().__init__(max_waiting)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm")

    def _produce(self, messages: list[dict], max_tokens: int, emit, stop) -> None:
        """Generate, calling emit(piece) per piece; return early once stop() is true."""
        raise NotImplementedError

    async def stream(self, messages: list[dict], max_tokens: int = 160, timeout: float = 20.0):
        """The model's reply as it is generated, piece by piece; raises
        GenerationError subclasses. Leaving the loop early stops the model."""
        with self._admitted():
            loop = asyncio.get_running_loop()
            pieces: asyncio.Queue = asyncio.Queue()
            cancelled = threading.Event()
            deadline = time.monotonic() + timeout

            def emit(item) -> None:
                try:
                    loop.call_soon_threadsafe(pieces.put_nowait, item)
                except RuntimeError:  # the event loop is gone: nobody is listening
                    cancelled.set()

            def stop() -> bool:
                return cancelled.is_set() or time.monotonic() > deadline

            def work() -> None:
                try:
                    self._produce(messages, max_tokens, emit, stop)
                    emit(GenerationTimeout("generation stopped at its deadline") if stop() else _DONE)
                except Exception as exc:  # model errors reach the caller as a fallback, not a crash
                    emit(GenerationError(f"the model failed: {exc}"))

            try:
                self._executor.submit(work)
                while True:
                    try:
                        item = await asyncio.wait_for(pieces.get(), max(0.001, deadline - time.monotonic()))
                    except asyncio.TimeoutError:
                        raise GenerationTimeout(f"no answer within {timeout:.1f} s") from None
                    if item is _DONE:
                        return
                    if isinstance(item, Exception):
                        raise item
                    yield item
            finally:
                cancelled.set()  # the worker stops at its next token

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class LlamaCppGenerator(ThreadedGenerator):
    def __init__(self, model: Path | str, threads: int = 2, context: int = 2048, max_waiting: int = 8):
        from llama_cpp import Llama

        super().__init__(max_waiting)
        kwargs = dict(n_ctx=context, n_threads=threads, verbose=False)
        if isinstance(model, str) and model.startswith("hub:"):
            repo, _, filename = model.removeprefix("hub:").rpartition("/")
            self._llm = Llama.from_pretrained(repo_id=repo, filename=filename, **kwargs)
        else:
            self._llm = Llama(model_path=str(model), **kwargs)
        self.name = Path(str(model)).name

    def _produce(self, messages: list[dict], max_tokens: int, emit, stop) -> None:
        for chunk in self._llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.1,
                                                      top_p=0.9, stream=True):
            if stop():
                return
            if piece := chunk["choices"][0]["delta"].get("content"):
                emit(piece)
