"""The agent console's web app: the page at /console and its JSON API under
/console/api/ (contract: the README's "Agent console" section).

Security, in one place (`guard`, a middleware over every /console/api/ route):
  - sessions are aiohttp-session's, kept in Redis (the cookie holds only a
    random key): HttpOnly, SameSite=Strict, Secure behind TLS, ended on the
    server at logout, and whenever the agent is removed or their password
    changes (a version number in the session);
  - no valid session: 401 on every route but login; the wrong role: 403;
  - every state-changing request carries the session's CSRF token in
    X-CSRF-Token (403 without it), and a browser's Origin, when sent, must
    be the console's own (403 otherwise; this also covers the WebSocket);
  - failed logins are counted per name and per address in Redis: after
    `login_slow_after` each try waits longer (1, 2, 4 ... 8 s), after
    `login_lockout_after` the name (or address) is locked out for
    `login_lockout_s` (429 with Retry-After);
  - the page is static with a strict Content-Security-Policy, and it puts
    shoppers' text into the page only as text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import datetime, time, timezone
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp_session
import redis.asyncio as redis
from aiohttp import WSMsgType, web
from aiohttp_session.redis_storage import RedisStorage
from redis.exceptions import RedisError

from bot.channels.base import ChannelError, check_text
from bot.console.agents import ADMIN, AGENT, Agent, AgentError, AgentStore
from bot.console.desk import HandoffDesk, NotAssigned, NotOpen, UnknownConversation, Unreachable
from bot.console.live import ConsoleHub
from bot.sessions.lock import LockTimeout
from bot.sessions.redis_client import SessionStoreUnavailable, reason_of
from bot.typedefs import (
    agents_key,
    assistant_key,
    config_key,
    desk_key,
    hub_key,
    models_key,
    outbox_key,
    redis_key,
    source_index_key,
)

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
API = "/console/api"
LOGIN = f"{API}/login"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
COOKIE = "shopkeep_console"
CSRF_HEADER = "X-CSRF-Token"
CSP = ("default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
MAX_SLOW_DOWN_S = 8.0
agent_key = web.RequestKey("agent", Agent)  # the logged-in agent of a console request
PRUNE_EVERY_S = 600.0  # how often each process drops expired conversations from the index


class ConsoleSessions(RedisStorage):
    """aiohttp-session's Redis storage on the app's own Redis client, which only exists once the app
    has started (`use`)."""

    def __init__(self, **cookie):
        super().__init__(redis.Redis(), cookie_name=COOKIE, **cookie)  # replaced by `use` before any request

    def use(self, client: redis.Redis) -> None:
        self._redis = client


def role_required(role: str):
    """Mark a handler as needing `role` ("admin"); `guard` checks it."""
    def mark(handler):
        handler.console_role = role
        return handler
    return mark


def json_error(status: int, message: str, **extra) -> web.Response:
    response = web.json_response({"error": message, **extra}, status=status)
    if extra.get("retry_after_s") is not None:
        response.headers["Retry-After"] = str(max(1, round(extra["retry_after_s"])))
    return response


def _own_origin(request: web.Request) -> bool:
    """True when the request carries no Origin (not a browser's cross-site request) or its own."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    public = request.app[config_key].server.public_url
    hosts = {request.host, *([urlsplit(public).netloc] if public else [])}
    return urlsplit(origin).netloc in hosts


@web.middleware
async def guard(request: web.Request, handler):
    """Sessions, roles, CSRF and errors for every /console/api/ route (see the module's docstring)."""
    if not request.path.startswith(API + "/") and request.path != API:
        return await handler(request)
    try:
        if not _own_origin(request):
            return json_error(403, "requests to the console must come from the console's own page")
        if request.path != LOGIN:
            session = await aiohttp_session.get_session(request)
            agent = await request.app[agents_key].get(session.get("agent") or "") if session.get("agent") else None
            if agent is None or agent.version != session.get("version"):
                if not session.new:
                    session.invalidate()
                return json_error(401, "not logged in")
            if request.method not in SAFE_METHODS and not secrets.compare_digest(
                    request.headers.get(CSRF_HEADER, ""), session.get("csrf", "")):
                return json_error(403, f"missing or wrong {CSRF_HEADER} header (the token from /console/api/me)")
            needed = getattr(request.match_info.handler, "console_role", AGENT)
            if needed == ADMIN and agent.role != ADMIN:
                return json_error(403, "this needs an admin")
            request[agent_key] = agent
        return await handler(request)
    except (SessionStoreUnavailable, RedisError) as exc:  # (aiohttp-session's storage raises Redis's own)
        return json_error(503, "the session store (Redis) is unavailable; try again",
                          reason=getattr(exc, "reason", None) or reason_of(exc), retry_after_s=1)
    except LockTimeout as exc:
        return json_error(503, str(exc), reason="busy", retry_after_s=5)
    except NotAssigned as exc:
        return json_error(409, str(exc), agent=exc.agent)
    except UnknownConversation:
        return json_error(404, "no such conversation")
    except NotOpen as exc:
        return json_error(409, str(exc), handoff_status=exc.status)
    except Unreachable as exc:
        return json_error(409, str(exc), channel=exc.channel)
    except web.HTTPRequestEntityTooLarge as exc:  # (a body over server.max_body_bytes)
        return json_error(413, exc.text or "the request body is too large")
    except AgentError as exc:
        return json_error(400, str(exc))


async def _body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be JSON"}),
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                 content_type="application/json")
    return body


def _text(body: dict, field: str, max_chars: int) -> str:
    text = body.get(field)
    if not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest(text=json.dumps({"error": f"'{field}' must be a non-empty string"}),
                                 content_type="application/json")
    try:
        return check_text(text.strip(), max_chars, field)
    except ChannelError as exc:  # 413
        raise web.HTTPRequestEntityTooLarge(max_chars, len(text), text=str(exc)) from None  # (guard: JSON)


def _me(agent, session) -> dict:
    return {"agent": {"name": agent.name, "role": agent.role}, "csrf": session["csrf"]}


# -- pages and login -----------------------------------------------------------

async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": CSP,
                                                             "Cache-Control": "no-store",
                                                             "X-Content-Type-Options": "nosniff",
                                                             "Referrer-Policy": "same-origin"})


async def login(request: web.Request) -> web.Response:
    """{"name", "password"} -> the agent and the CSRF token; 401 wrong; 429 locked out."""
    body = await _body(request)
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        return json_error(400, "'name' and 'password' are required")
    settings, agents = request.app[config_key].console, request.app[agents_key]
    address = request.remote or "unknown"
    # counted before the password is checked: guesses sent all at once are each counted
    attempts, expires_in = await agents.attempt(name, address, settings.login_lockout_s)
    if attempts > settings.login_lockout_after:
        return json_error(429, f"too many failed logins; try again in {expires_in} s", retry_after_s=expires_in)
    if attempts > settings.login_slow_after:  # each further try waits longer
        await asyncio.sleep(min(MAX_SLOW_DOWN_S, 2.0 ** (attempts - settings.login_slow_after - 1)))
    agent = await agents.verify(name, password)
    if agent is None:
        log.warning("console: failed login for %r from %s", name[:64], address)
        return json_error(401, "wrong name or password")
    await agents.succeeded(name, address)
    session = await aiohttp_session.new_session(request)  # a new key: no session fixation
    session.update(agent=agent.name, version=agent.version, csrf=secrets.token_urlsafe(32))
    log.info("console: %s logged in from %s", agent.name, address)
    return web.json_response(_me(agent, session))


async def logout(request: web.Request) -> web.Response:
    session = await aiohttp_session.get_session(request)
    session.invalidate()  # the server's copy is emptied, the cookie cleared
    return web.json_response({"ok": True})


async def me(request: web.Request) -> web.Response:
    return web.json_response(_me(request[agent_key], await aiohttp_session.get_session(request)))


# -- queue and conversations ------------------------------------------------------

async def queue(request: web.Request) -> web.Response:
    return web.json_response({"queue": await request.app[desk_key].queue()})


def _day(value: str | None, end: bool = False) -> float | None:
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value).date()
    except ValueError:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"dates are YYYY-MM-DD, got {value!r}"}),
                                 content_type="application/json") from None
    return datetime.combine(day, time.max if end else time.min, timezone.utc).timestamp()


async def conversations(request: web.Request) -> web.Response:
    q = request.query
    try:
        limit = max(1, min(200, int(q.get("limit", 50))))
    except ValueError:
        return json_error(400, "'limit' must be a number")
    found = await request.app[desk_key].search(q.get("q", ""), q.get("sender", ""), q.get("channel", ""),
                                               _day(q.get("since")), _day(q.get("until"), end=True), limit)
    return web.json_response({"conversations": found})


async def _view(request: web.Request) -> dict:
    view = await request.app[desk_key].conversation(request.match_info["id"])
    if view is None:
        raise web.HTTPNotFound(text=json.dumps({"error": "no such conversation"}), content_type="application/json")
    index = request.app[source_index_key]
    for trace in view["turns"].values():  # passage ids -> titles an agent can read
        trace["sources"] = [index.source(s)["title"] for s in trace.get("sources") or []]
    return view


async def conversation(request: web.Request) -> web.Response:
    return web.json_response(await _view(request))


async def export(request: web.Request) -> web.Response:
    view = await _view(request)
    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in view["id"])[:80]
    return web.json_response(view, headers={"Content-Disposition": f'attachment; filename="conversation-{name}.json"'},
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, indent=2))


async def take(request: web.Request) -> web.Response:
    body = await _body(request) if request.can_read_body else {}
    force = bool(body.get("force")) and request[agent_key].role == ADMIN
    handoff = await request.app[desk_key].take(request.match_info["id"], request[agent_key].name, force)
    return web.json_response({"handoff": handoff})


@role_required(ADMIN)
async def assign(request: web.Request) -> web.Response:
    body = await _body(request)
    name = body.get("agent")
    if not isinstance(name, str) or await request.app[agents_key].get(name) is None:
        return json_error(400, "'agent' must name an agent")
    handoff = await request.app[desk_key].take(request.match_info["id"], name, force=True)
    return web.json_response({"handoff": handoff})


async def reply(request: web.Request) -> web.Response:
    text = _text(await _body(request), "text", request.app[config_key].server.max_message_chars)
    entry, reach = await request.app[desk_key].reply(request.match_info["id"], request[agent_key].name, text)
    return web.json_response({"entry": entry, "delivery": reach})


async def note(request: web.Request) -> web.Response:
    text = _text(await _body(request), "text", request.app[config_key].server.max_message_chars * 2)
    return web.json_response({"note": await request.app[desk_key].note(request.match_info["id"],
                                                                      request[agent_key].name, text)})


async def suggest(request: web.Request) -> web.Response:
    """A draft answer to the shopper's latest message from the knowledge store, checked as the bot's
    answers are (it abstains rather than misstate a condition)."""
    question = await request.app[desk_key].last_question(request.match_info["id"])
    if question is None:
        return json_error(404, "no shopper message to answer")
    answer = await request.app[models_key].answerer.answer(question)
    index = request.app[source_index_key]
    return web.json_response({"question": question, "text": None if answer.abstained else answer.text,
                              "abstained": answer.abstained,
                              "sources": [index.source(s) for s in answer.sources]})


async def handback(request: web.Request) -> web.Response:
    agent = request[agent_key]
    await request.app[desk_key].hand_back(request.match_info["id"], agent.name, admin=agent.role == ADMIN)
    return web.json_response({"ok": True})


async def resolve(request: web.Request) -> web.Response:
    agent = request[agent_key]
    await request.app[desk_key].hand_back(request.match_info["id"], agent.name, resolve=True,
                                          admin=agent.role == ADMIN)
    return web.json_response({"ok": True})


@role_required(ADMIN)
async def delete_conversation(request: web.Request) -> web.Response:
    deleted = await request.app[desk_key].delete(request.match_info["id"])
    log.info("console: %s deleted conversation %s (%d keys)", request[agent_key].name, request.match_info["id"],
             deleted)
    return web.json_response({"deleted_keys": deleted})


async def metrics(request: web.Request) -> web.Response:
    try:
        days = int(request.query.get("days", 7))
    except ValueError:
        days = 0
    if not 1 <= days <= 365:
        return json_error(400, "'days' must be a whole number from 1 to 365")
    return web.json_response(await request.app[desk_key].metrics(days))


# -- canned responses and agents ------------------------------------------------

async def canned(request: web.Request) -> web.Response:
    return web.json_response({"canned": await request.app[desk_key].canned()})


@role_required(ADMIN)
async def add_canned(request: web.Request) -> web.Response:
    body = await _body(request)
    shortcut = body.get("shortcut")
    if not isinstance(shortcut, str) or not shortcut.startswith("/") or not 2 <= len(shortcut) <= 40 \
            or any(ch.isspace() for ch in shortcut):
        return json_error(400, "a shortcut is '/' and a word, e.g. /refund")
    text = _text(body, "text", request.app[config_key].server.max_message_chars)
    lang = body.get("lang") or ""
    if lang not in ("", "en", "zh"):
        return json_error(400, "'lang' must be \"en\", \"zh\" or empty (any language)")
    return web.json_response({"canned": await request.app[desk_key].add_canned(shortcut, text, lang)})


@role_required(ADMIN)
async def remove_canned(request: web.Request) -> web.Response:
    removed = await request.app[desk_key].remove_canned("/" + request.match_info["shortcut"].lstrip("/"))
    return web.json_response({"removed": removed}, status=200 if removed else 404)


@role_required(ADMIN)
async def agents(request: web.Request) -> web.Response:
    return web.json_response({"agents": [a.public() for a in await request.app[agents_key].list()]})


@role_required(ADMIN)
async def add_agent(request: web.Request) -> web.Response:
    body = await _body(request)
    name, password, role = body.get("name"), body.get("password"), body.get("role", AGENT)
    if not all(isinstance(v, str) for v in (name, password, role)):
        return json_error(400, "'name', 'password' and 'role' must be strings")
    agent = await request.app[agents_key].add(name, password, role)
    return web.json_response({"agent": agent.public()}, status=201)


@role_required(ADMIN)
async def remove_agent(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name == request[agent_key].name:
        return json_error(400, "you cannot remove yourself")
    removed = await request.app[agents_key].remove(name)
    return web.json_response({"removed": removed}, status=200 if removed else 404)


# -- live updates ----------------------------------------------------------------

async def live(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await socket.prepare(request)
    hub = request.app[hub_key]
    try:
        await hub.join(socket)
        async for message in socket:  # nothing is expected from the console; this waits for the close
            if message.type == WSMsgType.ERROR:
                break
    finally:
        hub.leave(socket)
    return socket


# -- wiring ----------------------------------------------------------------------

async def console_context(app: web.Application):
    """The desk, the agents and the live hub on the app's Redis; a periodic prune for retention."""
    config, client, assistant = app[config_key], app[redis_key], app[assistant_key]
    app[_storage_key].use(client)
    desk = assistant.desk
    app[desk_key] = desk
    app[agents_key] = AgentStore(client, config.sessions.key_prefix)
    hub = ConsoleHub(desk, app[outbox_key].channel)
    app[hub_key] = hub
    hub.start()
    pruning = asyncio.create_task(_prune_every(desk), name="console-prune")
    yield
    pruning.cancel()
    await hub.stop()


async def _prune_every(desk: HandoffDesk) -> None:
    while True:
        try:
            dropped = await desk.prune()
            if dropped:
                log.info("console: %d conversation(s) past the retention dropped from the index", dropped)
        except SessionStoreUnavailable as exc:
            log.warning("console: could not prune (%s)", exc.reason)
        await asyncio.sleep(PRUNE_EVERY_S)


_storage_key = web.AppKey("console_sessions", ConsoleSessions)


def cookie_secure(app: web.Application) -> bool:
    """The Secure flag: the setting, else whether the bot's public address is https."""
    config = app[config_key]
    if config.console.cookie_secure is not None:
        return config.console.cookie_secure
    return bool(config.server.public_url and config.server.public_url.startswith("https://"))


def setup_console(app: web.Application) -> None:
    """Add the console's page, API and middlewares to the bot's app (before it starts)."""
    config = app[config_key].console
    storage = ConsoleSessions(max_age=config.session_max_age_s, httponly=True, samesite="Strict",
                              secure=cookie_secure(app), path="/console")
    app[_storage_key] = storage
    app.middlewares.append(aiohttp_session.session_middleware(storage))
    app.middlewares.append(guard)
    app.cleanup_ctx.append(console_context)
    router = app.router
    router.add_get("/console", page)
    router.add_get("/console/", page)
    router.add_static("/console/static", STATIC)
    router.add_post(LOGIN, login)
    router.add_post(f"{API}/logout", logout)
    router.add_get(f"{API}/me", me)
    router.add_get(f"{API}/queue", queue)
    router.add_get(f"{API}/live", live)
    router.add_get(f"{API}/conversations", conversations)
    router.add_get(f"{API}/conversations/{{id}}", conversation)
    router.add_delete(f"{API}/conversations/{{id}}", delete_conversation)
    router.add_get(f"{API}/conversations/{{id}}/export", export)
    for name, handler in (("take", take), ("assign", assign), ("reply", reply), ("note", note),
                          ("suggest", suggest), ("handback", handback), ("resolve", resolve)):
        router.add_post(f"{API}/conversations/{{id}}/{name}", handler)
    router.add_get(f"{API}/canned", canned)
    router.add_post(f"{API}/canned", add_canned)
    router.add_delete(f"{API}/canned/{{shortcut}}", remove_canned)
    router.add_get(f"{API}/agents", agents)
    router.add_post(f"{API}/agents", add_agent)
    router.add_delete(f"{API}/agents/{{name}}", remove_agent)
    router.add_get(f"{API}/metrics", metrics)
