"""The website chat widget in a real browser: a shopper on the demo store's
page (Chromium via Playwright) talking to the bot on a real port (demo
store, no language model, real Redis). The same protocol without a browser
is tested in tests/bot/channels/test_widget_socket.py."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.typedefs import outbox_key

pytestmark = pytest.mark.integration

TIMEOUT_MS = 15_000

# Installed before the page's scripts: every WebSocket the page opens is kept in
# window.__sockets and every frame it receives in window.__frames; a
# MutationObserver records each provisional (streaming) bubble as it appears.
HOOK = """
(() => {
  window.__frames = [];
  window.__sockets = [];
  window.__provisional = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
      this.addEventListener('message', e => {
        try { window.__frames.push(JSON.parse(e.data)); } catch (err) { /* not JSON */ }
      });
    }
  };
  new MutationObserver(records => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType !== 1 || !n.hasAttribute('data-provisional')) continue;
      const box = n.getBoundingClientRect();
      window.__provisional.push({ replyTo: n.getAttribute('data-reply-to'), text: n.textContent,
                                  visible: box.width > 0 && box.height > 0 });
    }
  }).observe(document, { childList: true, subtree: true });
})();
"""

CJK = re.compile(r"[\u3400-\u9fff]")


async def open_demo(browser, live_server, **context_options):
    """A fresh browser context on the demo page, the frame hook installed; waits for the widget."""
    ctx = await browser.new_context(**context_options)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = await ctx.new_page()
    await page.add_init_script(HOOK)
    await page.goto(str(live_server.make_url("/")))
    await page.wait_for_function("() => !!window.ShopkeepWidget")
    return ctx, page


async def open_chat(page) -> None:
    await page.click("[data-role=launcher]")
    await page.wait_for_function("() => ShopkeepWidget.isOpen && ShopkeepWidget.connected")


async def wait_for_reply(page, client_id: str) -> dict:
    """Waits until the bot's entry answering `client_id` is shown; returns that entry (the frame)."""
    await page.wait_for_function(
        """cid => {
          const e = window.__frames.find(f => f.type === 'entry' && f.role === 'bot' && f.reply_to === cid);
          return !!e && !!document.querySelector(`[data-role=log] [data-entry-id="${e.id}"]`);
        }""", arg=client_id)
    return await page.evaluate(
        "cid => window.__frames.find(f => f.type === 'entry' && f.role === 'bot' && f.reply_to === cid)", client_id)


async def last_user_client_id(page) -> str:
    return await page.locator("[data-role=log] [data-role=message][data-from=user]").last.get_attribute(
        "data-client-id")


async def ask(page, text: str) -> tuple[str, dict]:
    """Types `text` into the widget and presses Enter; returns (its client id, the bot's reply entry)."""
    await page.fill("[data-role=input]", text)
    await page.press("[data-role=input]", "Enter")
    client_id = await last_user_client_id(page)
    return client_id, await wait_for_reply(page, client_id)


def bubble(page, entry_id: str):
    return page.locator(f'[data-role=log] [data-entry-id="{entry_id}"]')


async def transcript(page) -> list[tuple[str, str, str]]:
    """(entry id, from, text) of every confirmed message in the log, in page order."""
    return await page.evaluate("""() => [...document.querySelectorAll('[data-role=log] [data-entry-id]')]
        .map(n => [n.getAttribute('data-entry-id'), n.getAttribute('data-from'),
                   (n.querySelector('[data-role=text]') || {}).textContent || ''])""")


async def test_an_answer_streams_in_with_its_source(browser, live_server):
    ctx, page = await open_demo(browser, live_server)
    await open_chat(page)
    client_id, reply = await ask(page, "How long does shipping take?")

    shown = bubble(page, reply["id"])
    assert "3 to 5 business days" in await shown.locator("[data-role=text]").text_content()
    source = shown.locator("[data-role=sources] [data-role=source]")
    assert await source.count() == 1
    assert await source.text_content() == "How long does shipping take?"
    href = await source.get_attribute("href")
    assert href == str(live_server.make_url("/sources/shipping-times"))
    assert await source.get_attribute("rel") == "noopener noreferrer"
    # the link's page is the store's own text
    response = await ctx.request.get(href)
    assert response.ok and "3 to 5 business days" in await response.text()

    # streamed: "partial" frames for this reply came before its final entry...
    kinds = await page.evaluate(
        "cid => window.__frames.filter(f => f.reply_to === cid).map(f => f.type)", client_id)
    assert kinds.index("partial") < kinds.index("entry") and "partial" not in kinds[kinds.index("entry"):]
    # ...and were shown in a provisional bubble, which the final entry replaced
    provisional = await page.evaluate("cid => window.__provisional.filter(p => p.replyTo === cid)", client_id)
    assert len(provisional) == 1 and provisional[0]["visible"]
    assert await page.locator("[data-role=log] [data-provisional]").count() == 0
    assert await page.locator("[data-role=typing]").is_hidden()
    await ctx.close()


async def test_a_quick_reply_is_sent_and_earlier_ones_are_hidden(browser, live_server):
    ctx, page = await open_demo(browser, live_server)
    await open_chat(page)
    _, greeting = await ask(page, "hi")
    quick = bubble(page, greeting["id"]).locator("[data-role=quick-replies]")
    await quick.wait_for(state="visible")
    assert await quick.locator("[data-role=quick-reply]").all_text_contents() == [
        "Track my order", "Shipping times", "Returns"]

    await quick.get_by_role("button", name="Returns").click()
    user = page.locator("[data-role=log] [data-role=message][data-from=user]").last
    assert await user.locator("[data-role=text]").text_content() == "Returns"
    client_id = await user.get_attribute("data-client-id")
    reply = await wait_for_reply(page, client_id)
    await user.and_(page.locator("[data-entry-id]")).wait_for()  # the optimistic bubble got its receipt
    assert await user.locator("[data-role=text]").text_content() == "Returns"
    answer = await bubble(page, reply["id"]).locator("[data-role=text]").text_content()
    assert re.search(r"\breturn", answer, re.I) and "30 days" in answer
    assert await quick.is_hidden()
    assert await page.locator("[data-role=log] [data-role=quick-replies]:visible").count() == 0
    # the input keeps the focus for the next message
    assert await page.evaluate("document.activeElement.getAttribute('data-role')") == "input"
    await ctx.close()


async def test_a_reload_shows_the_same_conversation(browser, live_server):
    ctx, page = await open_demo(browser, live_server)
    await open_chat(page)
    await ask(page, "hi")
    await ask(page, "How long does shipping take?")
    before = await transcript(page)
    conversation_id = await page.evaluate("ShopkeepWidget.conversationId")
    assert len(before) == 4 and [who for _, who, _ in before] == ["user", "bot", "user", "bot"]

    await page.reload()
    await page.wait_for_function("() => !!window.ShopkeepWidget")
    await page.wait_for_function("n => document.querySelectorAll('[data-role=log] [data-entry-id]').length >= n",
                                 arg=len(before))
    assert await page.evaluate("ShopkeepWidget.conversationId") == conversation_id
    await open_chat(page)
    after = await transcript(page)
    assert after == before
    assert len({entry_id for entry_id, _, _ in after}) == len(after)
    # what the server replayed is exactly what the page shows, each entry once
    replayed = await page.evaluate("() => window.__frames.filter(f => f.type === 'entry').map(f => f.id)")
    assert replayed == [entry_id for entry_id, _, _ in before]
    await ctx.close()


async def test_the_widget_follows_the_page_into_chinese(browser, live_server):
    ctx, page = await open_demo(browser, live_server)
    assert await page.get_attribute("[data-role=input]", "placeholder") == "Type your message…"
    assert await page.text_content("[data-role=send]") == "Send"
    await page.click("[data-role=lang-zh]")
    await page.wait_for_function("() => document.querySelector('[data-role=send]').textContent === '发送'")
    assert await page.get_attribute("[data-role=input]", "placeholder") == "输入您的问题…"
    assert await page.get_attribute("[data-role=launcher]", "aria-label") == "打开聊天"
    await open_chat(page)
    assert CJK.search(await page.text_content("[data-role=log] [data-greeting]"))

    _, reply = await ask(page, "运费是多少？")
    answer = bubble(page, reply["id"])
    assert CJK.search(await answer.locator("[data-role=text]").text_content())
    assert "$5.95" in await answer.locator("[data-role=text]").text_content()
    assert (await answer.locator("[data-role=sources]").text_content()).startswith("来源：")
    await ctx.close()


async def test_markup_from_the_shopper_is_shown_as_text(browser, live_server):
    ctx, page = await open_demo(browser, live_server)
    dialogs = []

    async def on_dialog(dialog):
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    await open_chat(page)
    attack = "<img src=x onerror=alert(1)>"
    client_id, reply = await ask(page, attack)

    user = page.locator(f'[data-role=log] [data-client-id="{client_id}"]')
    await user.and_(page.locator("[data-entry-id]")).wait_for()
    assert await user.locator("[data-role=text]").text_content() == attack
    assert await page.locator("[data-role=log] img").count() == 0
    bot = bubble(page, reply["id"])
    text = reply["message"]["text"]
    assert text and await bot.locator("[data-role=text]").text_content() == text
    assert await bot.locator("[data-role=text] *").count() == 0
    await page.evaluate("() => new Promise(r => setTimeout(r, 200))")  # an onerror would have run by now
    assert dialogs == []
    await ctx.close()


async def test_a_message_sent_while_offline_is_delivered_once_when_back_online(browser, live_server):
    ctx, page = await open_demo(browser, live_server)
    await open_chat(page)
    await ask(page, "hi")
    conversation_id = await page.evaluate("ShopkeepWidget.conversationId")

    await ctx.set_offline(True)
    # Chromium's offline emulation may leave an open WebSocket up: take it down too
    sockets = await page.evaluate("() => { window.__sockets.at(-1).close(); return window.__sockets.length; }")
    await page.wait_for_function("() => !ShopkeepWidget.connected")
    await page.locator("[data-role=status]").wait_for(state="visible")
    question = "How long does shipping take?"
    await page.fill("[data-role=input]", question)
    await page.press("[data-role=input]", "Enter")
    pending = page.locator("[data-role=log] [data-role=message][data-from=user]").last
    assert await pending.get_attribute("data-status") == "pending"
    client_id = await pending.get_attribute("data-client-id")
    # at least one reconnect fails while offline; the message stays pending
    await page.wait_for_function("n => window.__sockets.length > n", arg=sockets)
    await page.wait_for_function("n => window.__sockets[n].readyState === WebSocket.CLOSED", arg=sockets)
    assert not await page.evaluate("ShopkeepWidget.connected")
    assert await pending.get_attribute("data-status") == "pending"

    await ctx.set_offline(False)
    reply = await wait_for_reply(page, client_id)
    await pending.and_(page.locator("[data-entry-id]")).wait_for()
    assert await pending.get_attribute("data-status") is None
    await page.locator("[data-role=status]").wait_for(state="hidden")

    users = page.locator("[data-role=log] [data-role=message][data-from=user]", has_text=question)
    assert await users.count() == 1
    shown = await transcript(page)
    assert len({entry_id for entry_id, _, _ in shown}) == len(shown) == 4
    assert "3 to 5 business days" in await bubble(page, reply["id"]).locator("[data-role=text]").text_content()
    entries = await live_server.app[outbox_key].after(conversation_id)
    assert [e["client_id"] for e in entries if e["role"] == "user" and e["message"]["text"] == question] == [
        client_id]
    assert len([e for e in entries if e["role"] == "bot" and e["reply_to"] == client_id]) == 1
    assert [e["id"] for e in entries] == [entry_id for entry_id, _, _ in shown]
    await ctx.close()


async def test_the_keyboard_opens_and_closes_the_chat(browser, live_server):
    ctx, page = await open_demo(browser, live_server)
    launcher = page.locator("[data-role=launcher]")
    assert await page.get_attribute("[data-role=panel]", "role") == "dialog"
    assert await page.get_attribute("[data-role=log]", "role") == "log"
    assert await launcher.get_attribute("aria-label") == "Open chat"

    # the launcher is the last stop in the page's tab order
    await page.keyboard.press("Shift+Tab")
    assert await launcher.evaluate("el => el === document.activeElement")
    await page.keyboard.press("Enter")
    await page.locator("[data-role=panel]").wait_for(state="visible")
    assert await launcher.get_attribute("aria-expanded") == "true"
    assert await page.evaluate("document.activeElement.getAttribute('data-role')") == "input"
    await page.wait_for_function("() => ShopkeepWidget.connected")

    # typing and Enter sends; Tab moves on to the send button
    await page.keyboard.type("hi")
    await page.keyboard.press("Enter")
    await wait_for_reply(page, await last_user_client_id(page))
    assert await page.input_value("[data-role=input]") == ""
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.getAttribute('data-role')") == "send"

    await page.keyboard.press("Escape")
    await page.locator("[data-role=panel]").wait_for(state="hidden")
    assert await launcher.evaluate("el => el === document.activeElement")
    assert await launcher.get_attribute("aria-expanded") == "false"
    assert not await page.evaluate("ShopkeepWidget.isOpen")

    await page.keyboard.press("Space")  # a button: Space opens it too
    await page.locator("[data-role=panel]").wait_for(state="visible")
    assert await page.evaluate("document.activeElement.getAttribute('data-role')") == "input"
    await ctx.close()


async def test_on_a_phone_the_open_chat_covers_the_screen(browser, live_server):
    ctx, page = await open_demo(browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True)
    await page.tap("[data-role=launcher]")
    await page.wait_for_function("() => ShopkeepWidget.isOpen && ShopkeepWidget.connected")
    box = await page.locator("[data-role=panel]").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}
    # the input and send button are on screen, and the header's close button closes it
    for role in ("input", "send", "close"):
        part = await page.locator(f"[data-role={role}]").bounding_box()
        assert part and 0 <= part["x"] and part["x"] + part["width"] <= 390 and part["y"] + part["height"] <= 844
    await page.tap("[data-role=close]")
    await page.locator("[data-role=panel]").wait_for(state="hidden")
    await page.locator("[data-role=launcher]").wait_for(state="visible")
    await ctx.close()


async def test_a_rate_limited_reconnect_keeps_the_conversation(browser, aiohttp_server, config, models):
    from bot.server import init_app

    widget = replace(config.channels.widget, connections_per_ip="3/minute")
    server = await aiohttp_server(init_app(replace(config, channels=replace(config.channels, widget=widget)), models))
    ctx, page = await open_demo(browser, server)
    await open_chat(page)  # socket 1
    await ask(page, "hi")
    stored = ("() => Object.entries(localStorage).filter(([k]) => k.startsWith('shopkeep:'))"
              ".map(([, v]) => JSON.parse(v))")
    [state] = await page.evaluate(stored)
    assert state["token"] and state["conversationId"]
    for _ in range(2):  # sockets 2 and 3: a returning shopper reconnects on every page load
        await page.reload()
        await page.wait_for_function("() => window.ShopkeepWidget && ShopkeepWidget.connected")
    await page.reload()  # socket 4 is refused with 429; the widget probes the server and retries
    await page.wait_for_function("() => window.__sockets.length >= 2 && window.__sockets[0].readyState === 3")
    [after] = await page.evaluate(stored)
    # the same conversation (its token may have been signed again meanwhile, with a later timestamp)
    assert after["conversationId"] == state["conversationId"] and after["token"].startswith(state["conversationId"])
    await ctx.close()
