"""Chat generation on any server with the OpenAI chat-completions API (vLLM,
TGI, Ollama, llama.cpp's server), for stores that outgrow one machine.

Spec: `openai:MODEL@BASE_URL`, e.g. `openai:qwen2.5:7b@http://localhost:11434/v1`;
the key, if the server wants one, comes from $SHOPKEEP_LM_API_KEY. Same
contract as the llama.cpp generator: a deadline per answer, a bounded number
of waiting requests, and GenerationError subclasses the caller falls back on.
"""

from __future__ import annotations

import asyncio
import json
import os

import aiohttp

from lm.generation import GenerationError, GenerationTimeout, Generator

SPEC_PREFIX = "openai:"


class ServerError(GenerationError):
    """The LM server could not be reached or refused the request."""


def parse_spec(spec: str) -> tuple[str, str]:
    """'openai:MODEL@URL' -> (model, base URL without a trailing slash)."""
    model, sep, url = spec.removeprefix(SPEC_PREFIX).partition("@")
    if not sep or not model or not url.startswith(("http://", "https://")):
        raise ValueError(f"{spec!r}: expected openai:MODEL@http(s)://HOST[:PORT]/v1")
    return model, url.rstrip("/")


class OpenAICompatibleGenerator(Generator):
    def __init__(self, spec: str, api_key: str | None = None, max_waiting: int = 8):
        super().__init__(max_waiting)
        self.model, self.base_url = parse_spec(spec)
        self.name = f"{self.model} at {self.base_url}"
        self._api_key = api_key if api_key is not None else os.environ.get("SHOPKEEP_LM_API_KEY")

    async def stream(self, messages: list[dict], max_tokens: int = 160, timeout: float = 20.0):
        """The model's reply as the server sends it, piece by piece; raises
        GenerationError subclasses."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.1,
                "top_p": 0.9, "stream": True}
        with self._admitted():
            deadline = asyncio.get_running_loop().time() + timeout
            try:
                async with asyncio.timeout_at(deadline), aiohttp.ClientSession() as session:
                    async with session.post(f"{self.base_url}/chat/completions", json=body,
                                            headers=headers) as resp:
                        if resp.status != 200:
                            raise ServerError(f"LM server answered {resp.status}: {(await resp.text())[:200]}")
                        # Server-sent events: "data: {json}" lines, ending with "data: [DONE]".
                        async for raw in resp.content:
                            line = raw.decode("utf-8", "replace").strip()
                            if not line.startswith("data:"):
                                continue
                            data = line.removeprefix("data:").strip()
                            if data == "[DONE]":
                                return
                            try:
                                choice = json.loads(data)["choices"][0]
                            except (json.JSONDecodeError, KeyError, IndexError, TypeError):
                                raise ServerError(f"LM server sent an unreadable event: {data[:200]}") from None
                            if piece := (choice.get("delta") or {}).get("content"):
                                yield piece
            except TimeoutError:
                raise GenerationTimeout(f"no answer within {timeout:.1f} s") from None
            except aiohttp.ClientError as exc:
                raise ServerError(f"LM server unreachable: {exc}") from None
