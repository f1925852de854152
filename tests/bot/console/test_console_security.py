"""The console's security: sessions, roles, CSRF, lockout, origins (a real Redis, the real app)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace

import pytest

from bot.server import init_app
from tests.bot.console.conftest import PASSWORD, login, shopper_says

pytestmark = pytest.mark.integration
API = "/console/api"
PUBLIC = {f"{API}/login"}


def console_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every console API route, from the app's router, ids filled in."""
    routes = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if not path or not path.startswith(API) or route.method == "HEAD":
            continue
        routes.append((route.method, re.sub(r"\{[^}]+\}", "x1", path)))
    return routes


async def test_every_console_route_but_login_needs_a_session(client):
    routes = console_routes(client.app)
    assert len(routes) >= 20  # the test reads the router: a new route is covered without editing it
    for method, path in routes:
        if path in PUBLIC:
            continue
        resp = await client.request(method, path, json={})
        assert resp.status == 401, (method, path, resp.status)
        assert (await resp.json())["error"] == "not logged in"


async def test_every_state_changing_route_needs_the_csrf_token(client, agent_store):
    headers = await login(client)
    for method, path in console_routes(client.app):
        if method in ("GET",) or path in PUBLIC:
            continue
        for sent in ({}, {"X-CSRF-Token": "forged"}):
            resp = await client.request(method, path, json={}, headers=sent)
            assert resp.status == 403, (method, path, sent, resp.status)
    # with the token the same request gets through the guard (here: an unknown conversation)
    resp = await client.post(f"{API}/conversations/nobody/take", headers=headers)
    assert resp.status == 404


async def test_an_agent_cannot_act_as_admin(client, agent_store):
    headers = await login(client, "bob")
    for method, path, body in [("GET", f"{API}/agents", None),
                               ("POST", f"{API}/agents", {"name": "eve", "password": PASSWORD, "role": "admin"}),
                               ("DELETE", f"{API}/agents/ada", None),
                               ("POST", f"{API}/canned", {"shortcut": "/x", "text": "y"}),
                               ("DELETE", f"{API}/canned/x", None),
                               ("DELETE", f"{API}/conversations/s1", None),
                               ("POST", f"{API}/conversations/s1/assign", {"agent": "bob"})]:
        resp = await client.request(method, path, json=body, headers=headers)
        assert resp.status == 403, (method, path)
    assert await agent_store.get("eve") is None
    assert (await client.get(f"{API}/me")).status == 200  # still an agent's session
    admin = await login(client, "ada")
    assert (await client.get(f"{API}/agents")).status == 200
    resp = await client.post(f"{API}/agents", json={"name": "eve", "password": PASSWORD, "role": "agent"},
                             headers=admin)
    assert resp.status == 201 and (await agent_store.get("eve")).role == "agent"


async def test_wrong_passwords_are_slowed_then_locked_out(aiohttp_client, config, models, agent_store):
    console = replace(config.console, login_slow_after=2, login_lockout_after=4, login_lockout_s=60)
    client = await aiohttp_client(init_app(replace(config, console=console), models))
    statuses = []
    for _ in range(4):
        started = time.monotonic()
        resp = await client.post(f"{API}/login", json={"name": "ada", "password": "wrong password!"})
        statuses.append((resp.status, time.monotonic() - started))
    assert [s for s, _ in statuses] == [401, 401, 401, 401]
    assert statuses[2][1] >= 0.9  # from the third try on, each waits first
    # locked: even the right password is refused, with the time to wait
    resp = await client.post(f"{API}/login", json={"name": "ada", "password": PASSWORD})
    assert resp.status == 429 and 0 < int(resp.headers["Retry-After"]) <= 60
    assert "too many failed logins" in (await resp.json())["error"]
    # another agent is not locked by ada's failures (from another address they would not be either)
    other = await aiohttp_client(init_app(replace(config, console=replace(console, login_lockout_after=50)), models))
    assert (await other.post(f"{API}/login", json={"name": "bob", "password": PASSWORD})).status == 200


async def test_guesses_sent_all_at_once_are_each_counted(aiohttp_client, config, models, agent_store):
    console = replace(config.console, login_slow_after=100, login_lockout_after=4, login_lockout_s=60)
    client = await aiohttp_client(init_app(replace(config, console=console), models))
    guesses = await asyncio.gather(*(client.post(f"{API}/login", json={"name": "ada", "password": f"guess {n}"})
                                     for n in range(20)))
    statuses = sorted(r.status for r in guesses)
    assert statuses == [401] * 4 + [429] * 16  # only the first four were checked
    assert (await client.post(f"{API}/login", json={"name": "ada", "password": PASSWORD})).status == 429


async def test_unknown_names_and_wrong_passwords_get_the_same_answer(client, agent_store):
    a = await client.post(f"{API}/login", json={"name": "nobody", "password": "whatever it is"})
    b = await client.post(f"{API}/login", json={"name": "ada", "password": "whatever it is"})
    assert a.status == b.status == 401 and await a.json() == await b.json()
    resp = await client.post(f"{API}/login", data=b"{nope", headers={"Content-Type": "application/json"})
    assert resp.status == 400


async def test_logout_ends_the_session_on_the_server(client, agent_store):
    headers = await login(client)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/console/api/me"))["shopkeep_console"].value
    assert (await client.post(f"{API}/logout", headers=headers)).status == 200
    assert (await client.get(f"{API}/me")).status == 401
    # the old cookie, replayed, is worth nothing
    resp = await client.get(f"{API}/me", headers={"Cookie": f"shopkeep_console={cookie}"})
    assert resp.status == 401


async def test_a_new_password_or_removal_ends_the_agents_sessions(client, agent_store):
    await login(client, "bob")
    assert (await client.get(f"{API}/me")).status == 200
    await agent_store.set_password("bob", "another long password")
    assert (await client.get(f"{API}/me")).status == 401
    await login(client, "bob", "another long password")
    await agent_store.remove("bob")
    assert (await client.get(f"{API}/me")).status == 401


async def test_the_session_cookie_is_httponly_samesite_and_secure_behind_tls(aiohttp_client, config, models,
                                                                            agent_store):
    for public_url, secure in ((None, False), ("https://bot.example", True)):
        app = init_app(replace(config, server=replace(config.server, public_url=public_url)), models)
        client = await aiohttp_client(app)
        resp = await client.post(f"{API}/login", json={"name": "ada", "password": PASSWORD},
                                 headers={"Origin": "https://bot.example"} if public_url else {})
        assert resp.status == 200
        cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
        assert ("Secure" in cookie) is secure


async def test_requests_from_another_sites_page_are_refused(client, agent_store):
    resp = await client.post(f"{API}/login", json={"name": "ada", "password": PASSWORD},
                             headers={"Origin": "https://evil.example"})
    assert resp.status == 403
    headers = await login(client)
    resp = await client.post(f"{API}/conversations/x/note", json={"text": "hi"},
                             headers={**headers, "Origin": "https://evil.example"})
    assert resp.status == 403


async def test_the_page_has_a_strict_content_security_policy(client):
    resp = await client.get("/console")
    assert resp.status == 200
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert "<script" in await resp.text()


async def test_a_shoppers_script_is_kept_as_text(client, agent_store):
    await login(client)
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    await shopper_says(client, "xss-1", payload)
    view = await (await client.get(f"{API}/conversations/xss-1")).json()
    assert view["transcript"][0]["message"]["text"] == payload  # JSON text; the page shows it as text
    assert (await client.get(f"{API}/conversations/xss-1")).content_type == "application/json"
