"""Running rasa-sdk custom actions: in this process, or on a Rasa action server.

Both speak the action-server protocol (a call with tracker and domain in;
events and responses out), so an action behaves the same either way.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Protocol

import aiohttp

log = logging.getLogger(__name__)


class ActionFailed(Exception):
    """A custom action raised, rejected its input, or its server failed."""

    def __init__(self, action: str, reason: str):
        super().__init__(f"action '{action}' failed: {reason}")
        self.action = action


class ActionRunner(Protocol):
    async def run(self, call: dict) -> dict:
        """Run `call["next_action"]`; return {"events": [...], "responses": [...]}."""

    def has(self, action: str) -> bool: ...

    async def close(self) -> None: ...


class NoActions:
    """A project without custom actions (no action server, no actions package): every custom action
    fails with the reason, which the shopper gets as an apology and the log as an error."""

    def has(self, action: str) -> bool:
        return False

    async def run(self, call: dict) -> dict:
        raise ActionFailed(call["next_action"], "no action server is configured (endpoints.yml action_endpoint "
                                                "or ACTION_ENDPOINT) and the project has no actions package")

    async def close(self) -> None:
        pass


class InProcessActions:
    """rasa-sdk actions run in this process. `root`: the folder the package is imported from (a Rasa
    project's folder, whose `actions` package imports itself as `actions.xxx`); None: the usual path."""

    def __init__(self, package: str, root: str | None = None):
        from rasa_sdk.executor import ActionExecutor

        if root is not None:
            _import_from(package, root)
            os.chdir(root)  # as a Rasa action server runs: the project's actions open files from its folder
        self._executor = ActionExecutor()
        self._executor.register_package(package)

    def has(self, action: str) -> bool:
        return action in self._executor.actions

    async def run(self, call: dict) -> dict:
        from rasa_sdk.interfaces import ActionExecutionRejection

        try:
            result = await self._executor.run(call)
        except ActionExecutionRejection as exc:
            raise ActionFailed(call["next_action"], f"rejected: {exc}") from exc
        except Exception as exc:
            raise ActionFailed(call["next_action"], f"{type(exc).__name__}: {exc}") from exc
        return result.model_dump() if result is not None else {"events": [], "responses": []}

    async def close(self) -> None:
        pass


def _import_from(package: str, root: str) -> None:
    """Make `package` the one under `root`: first on the path, and any other package of that name
    already imported (shopkeep's own demo `actions`) forgotten, so that the project's actions run."""
    import importlib
    import sys
    from pathlib import Path

    root = str(Path(root).resolve())
    loaded = sys.modules.get(package)
    if loaded is not None and not str(getattr(loaded, "__file__", "") or "").startswith(root):
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    importlib.invalidate_caches()


class RemoteActions:
    """A Rasa action server reached over HTTP (`python -m rasa_sdk --actions actions`)."""

    def __init__(self, endpoint: str, timeout_s: float = 10.0):
        self.endpoint = endpoint
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._known: set[str] | None = None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def discover(self) -> None:
        """Ask the server which actions it has (GET /actions next to /webhook)."""
        url = self.endpoint.rsplit("/", 1)[0] + "/actions"
        try:
            client = await self._client()
            async with client.get(url) as resp:
                resp.raise_for_status()
                self._known = {a["name"] for a in await resp.json()}
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("action server %s: could not list actions (%s); will try every action there", url, exc)
            self._known = None

    def has(self, action: str) -> bool:
        return self._known is None or action in self._known

    async def run(self, call: dict) -> dict:
        action = call["next_action"]
        try:
            client = await self._client()
            async with client.post(self.endpoint, json=call) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200:
                    reason = body.get("error") if isinstance(body, dict) else None
                    raise ActionFailed(action, f"server answered {resp.status}: {reason or body}")
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise ActionFailed(action, f"action server unreachable: {type(exc).__name__}: {exc}") from exc
        return {"events": body.get("events") or [], "responses": body.get("responses") or []}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
