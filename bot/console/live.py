"""Live updates for open consoles, across every server process.

One Redis pub/sub subscription per process, to the desk's channel (queue and
conversation changes, bot/console/desk.py) and the outbound path's (new
transcript entries, bot/channels/outbound.py). Each change is passed to this
process's open console WebSockets as

    {"type": "queue", "queue": [QueueItem, ...]}   the whole queue, read once per burst of changes
    {"type": "conversation", "id": CID}            the conversation changed; an open view refetches it

so a handoff raised in one process shows in a console connected to another.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from bot.console.desk import HandoffDesk
from bot.sessions.redis_client import SessionStoreUnavailable, follow

log = logging.getLogger(__name__)

QUEUE_DEBOUNCE_S = 0.05  # changes within this long are sent as one queue frame
STOP_WAIT_S = 2.0


class ConsoleHub:
    def __init__(self, desk: HandoffDesk, outbox_channel: str):
        self.desk = desk
        self.channels = (desk.channel, outbox_channel)
        self.sockets: set[web.WebSocketResponse] = set()
        self._queued: set[str] = set()  # conversations in the queue, as last sent
        self._queue_due: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None
        self._stopping = False
        self.listening = asyncio.Event()

    def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="console-listener")

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._listener, self._queue_due):
            if task is not None:
                task.cancel()
        await asyncio.wait({t for t in (self._listener, self._queue_due) if t is not None} or {asyncio.sleep(0)},
                           timeout=STOP_WAIT_S)
        for socket in list(self.sockets):
            await socket.close()

    async def join(self, socket: web.WebSocketResponse) -> None:
        """A console connected: it gets the queue now and every change from then on."""
        self.sockets.add(socket)
        queue = await self.desk.queue()
        self._queued = {item["id"] for item in queue}
        await self._send(socket, {"type": "queue", "queue": queue})

    def leave(self, socket: web.WebSocketResponse) -> None:
        self.sockets.discard(socket)

    async def _send(self, socket: web.WebSocketResponse, frame: dict) -> None:
        try:
            await socket.send_str(json.dumps(frame, ensure_ascii=False))
        except (ConnectionError, RuntimeError):
            self.sockets.discard(socket)  # closed meanwhile

    async def _broadcast(self, frame: dict) -> None:
        await asyncio.gather(*(self._send(s, frame) for s in list(self.sockets)))

    def _queue_changed(self) -> None:
        if self._queue_due is None or self._queue_due.done():
            self._queue_due = asyncio.create_task(self._send_queue())

    async def _send_queue(self) -> None:
        await asyncio.sleep(QUEUE_DEBOUNCE_S)
        while True:
            try:
                queue = await self.desk.queue()
                break
            except SessionStoreUnavailable as exc:
                if self._stopping:
                    return
                log.warning("console: cannot read the queue yet (%s)", exc.reason)
                await asyncio.sleep(0.5)
        self._queued = {item["id"] for item in queue}
        await self._broadcast({"type": "queue", "queue": queue})

    async def _on_message(self, channel: str, data: str) -> None:
        if channel == self.desk.channel:
            change = json.loads(data)
            if change.get("type") == "queue":
                self._queue_changed()
            elif change.get("id"):
                await self._broadcast({"type": "conversation", "id": change["id"]})
                if change["id"] in self._queued:
                    self._queue_changed()  # its last messages changed
        elif data in self._queued:  # a new message in a conversation waiting for a person
            await self._broadcast({"type": "conversation", "id": data})
            self._queue_changed()

    async def _listen(self) -> None:
        async def handle(channel: str, data: str) -> None:
            if self.sockets:
                await self._on_message(channel, data)

        # after a lost subscription, the queue is read again: whatever changed meanwhile
        await follow(self.desk.client, self.channels, handle, self.listening, lambda: self._stopping, "console",
                     on_subscribed=self._queue_changed)
