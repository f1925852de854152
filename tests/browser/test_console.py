"""The agent handoff console in a real browser, with a shopper in another: the
shopper talks to the bot through the demo page's widget, an agent works the
queue in /console (each in a browser context of its own, so their cookies
differ), both live on the same server (demo store, no language model, real
Redis). The console's API without a browser: tests/bot/console/."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.bot.console.conftest import PASSWORD, agent_store  # noqa: F401 (the fixture: agents ada and bob)
from tests.browser.test_widget import CJK, HOOK, TIMEOUT_MS, ask, open_chat, open_demo

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("agent_store")]  # every test: agents ada and bob

LIVE_WITHIN_S = 2.0  # a handoff shows in an open console this soon after the shopper sees the bot's reply


class Problems:
    """JavaScript errors, console errors and dialogs of a page. Not problems: the 401s the console
    expects (its /console/api/me before the login) and the browser's own /favicon.ico 404."""

    def __init__(self, page):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._on_console)
        page.on("dialog", self._on_dialog)

    def _on_console(self, message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if message.text.startswith("Failed to load resource"):
            if "status of 401" in message.text and "/console/api/" in url:
                return
            if "status of 404" in message.text and url.endswith("/favicon.ico"):  # the browser's own request
                return
        self.errors.append(f"console: {message.text} ({url})")

    async def _on_dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()  # with a listener, Playwright leaves it open (the page would hang)


async def open_console(browser, base_url: str, name: str = "bob", password: str = PASSWORD):
    """A fresh browser context on /console, logged in through the form, the live socket connected.
    Returns (context, page, problems); window.__marker is set, so a reload would show."""
    ctx = await browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    page = await ctx.new_page()
    problems = Problems(page)
    await page.add_init_script(HOOK)  # the live socket's frames in window.__frames
    await page.goto(base_url.rstrip("/") + "/console")
    await page.locator("[data-role=login-name]").wait_for(state="visible")
    await page.fill("[data-role=login-name]", name)
    await page.fill("[data-role=login-password]", password)
    await page.click("[data-role=login-submit]")
    await page.locator("[data-role=app]").wait_for(state="visible")
    await page.locator("[data-role=live][data-state=on]").wait_for()
    assert await page.text_content("[data-role=me]") == f"{name} ({'admin' if name == 'ada' else 'agent'})"
    await page.evaluate("window.__marker = 'no reload'")
    return ctx, page, problems


async def still_the_same_page(page) -> bool:
    return await page.evaluate("window.__marker") == "no reload"


def queue_item(page, conversation_id: str):
    return page.locator(f'[data-role=queue-item][data-id="{conversation_id}"]')


async def shows_up_live(console, conversation_id: str) -> float:
    """Waits (at most LIVE_WITHIN_S) for the conversation's queue item; returns the seconds it took.
    Call it the moment the shopper sees the bot's handoff reply."""
    start = time.monotonic()
    await queue_item(console, conversation_id).wait_for(state="visible", timeout=LIVE_WITHIN_S * 1000)
    took = time.monotonic() - start
    assert await still_the_same_page(console), "the console page reloaded"
    # it came over the live socket, not from a reload or a fetch of the queue
    frames = await console.evaluate(
        "id => window.__frames.filter(f => f.type === 'queue' && (f.queue || []).some(q => q.id === id)).length",
        conversation_id)
    assert frames >= 1
    return took


async def open_conversation(console, conversation_id: str):
    """Clicks the queue item; returns the conversation view once its transcript is loaded."""
    await queue_item(console, conversation_id).locator("button").click()
    view = console.locator(f'[data-role=conversation][data-id="{conversation_id}"]')
    await view.wait_for(state="visible")
    await view.locator("[data-role=transcript] [data-role=entry]").first.wait_for()
    return view


async def take_over(console, view) -> None:
    await view.locator("[data-role=take]").click()
    await console.wait_for_function(
        "() => document.querySelector('[data-role=conv-meta]').textContent.includes('Taken by you')")
    await console.wait_for_function("() => document.querySelector('[data-role=take]').disabled")


async def reply(console, view, text: str) -> None:
    await view.locator("[data-role=reply-input]").fill(text)
    await view.locator("[data-role=reply-send]").click()
    entry = view.locator("[data-role=transcript] [data-role=entry][data-from=agent]").filter(has_text=text)
    await entry.wait_for()


def widget_messages(page, who: str):
    return page.locator(f"[data-role=log] [data-role=message][data-from={who}][data-entry-id]")


async def shopper_sees(page, who: str, text: str):
    """Waits for a confirmed widget message from `who` containing `text`; returns it."""
    message = widget_messages(page, who).filter(has_text=text)
    await message.first.wait_for(state="visible")
    return message.first


async def hand_back(console, view, shopper, back_text_check) -> None:
    """Clicks Hand back; the shopper is told in a new bot message (checked by `back_text_check`)."""
    before = await widget_messages(shopper, "bot").count()
    await view.locator("[data-role=handback]").click()
    await shopper.wait_for_function(
        "n => document.querySelectorAll('[data-role=log] [data-from=bot][data-entry-id]').length > n",
        arg=before)
    told = await widget_messages(shopper, "bot").last.locator("[data-role=text]").text_content()
    assert back_text_check(told), told


async def handoff_over_in_view(console, view) -> None:
    """After a hand back the open view says the bot has the conversation again: Hand back and Resolve
    are no longer offered (a second Hand back would tell the shopper again)."""
    await console.wait_for_function(  # the view was refetched after the hand back
        "() => !/Taken by|Waiting since/.test(document.querySelector('[data-role=conv-meta]').textContent)")
    try:
        await console.wait_for_function(
            "() => document.querySelector('[data-role=handback]').disabled"
            " && document.querySelector('[data-role=resolve]').disabled", timeout=3000)
    except PlaywrightTimeout:
        meta = await view.locator("[data-role=conv-meta]").text_content()
        pytest.fail(f"after the hand back, Hand back/Resolve are still enabled (conv-meta: {meta!r})")


def no_problems(*problems: Problems) -> None:
    for p in problems:
        assert p.errors == [] and p.dialogs == [], (p.errors, p.dialogs)


async def handoff_flow(browser, live_server, *, chinese: bool, ask_for_person: str, agent_text: str,
                       question: str, answer_check) -> None:
    base = str(live_server.make_url("/"))
    agent_ctx, console, console_problems = await open_console(browser, base)
    shopper_ctx, shopper = await open_demo(browser, live_server)
    shopper_problems = Problems(shopper)
    if chinese:
        await shopper.click("[data-role=lang-zh]")
        await shopper.wait_for_function("() => document.querySelector('[data-role=send]').textContent === '发送'")
    await open_chat(shopper)
    conversation_id = await shopper.evaluate("ShopkeepWidget.conversationId")

    _, handoff_reply = await ask(shopper, ask_for_person)  # returns once the reply is shown in the widget
    took = await shows_up_live(console, conversation_id)
    assert took < LIVE_WITHIN_S
    told = await shopper.locator(f'[data-role=log] [data-entry-id="{handoff_reply["id"]}"] [data-role=text]'
                                 ).text_content()
    assert bool(CJK.search(told)) == chinese, told
    item = queue_item(console, conversation_id)
    assert await item.locator("[data-role=queue-reason]").text_content() == "Asked for a person"
    assert await item.locator("[data-role=queue-status]").text_content() == "Waiting"
    asked = await item.locator("[data-role=queue-message][data-from=user]").all_text_contents()
    assert any(ask_for_person in t for t in asked), asked
    assert await item.locator(".tag").text_content() == ("Chinese" if chinese else "English")

    view = await open_conversation(console, conversation_id)
    await take_over(console, view)
    await item.locator("[data-role=queue-status]").filter(has_text="Taken by you").wait_for()
    await reply(console, view, agent_text)
    shown = await shopper_sees(shopper, "agent", agent_text)
    assert (await shown.locator("[data-role=text]").text_content()) == agent_text
    assert await widget_messages(shopper, "agent").count() == 1

    await hand_back(console, view, shopper,
                    (lambda t: bool(CJK.search(t))) if chinese else (lambda t: "ask for a person again" in t))
    await item.wait_for(state="detached")  # out of the queue, live

    _, answer = await ask(shopper, question)
    text = await shopper.locator(f'[data-role=log] [data-entry-id="{answer["id"]}"] [data-role=text]').text_content()
    assert answer_check(text), text
    assert await still_the_same_page(console)
    no_problems(console_problems, shopper_problems)
    await handoff_over_in_view(console, view)
    await shopper_ctx.close()
    await agent_ctx.close()


async def test_an_agent_takes_a_handoff_live_and_hands_it_back(browser, live_server):
    await handoff_flow(browser, live_server, chinese=False, ask_for_person="I want to talk to a person",
                       agent_text="Hi, this is Bob from the team. How can I help?",
                       question="Do you accept PayPal?", answer_check=lambda t: "PayPal" in t)


async def test_the_same_flow_in_chinese(browser, live_server):
    await handoff_flow(browser, live_server, chinese=True, ask_for_person="我要转人工客服",
                       agent_text="您好，我是客服小王，请问有什么可以帮您？",
                       question="你们接受PayPal吗？",
                       answer_check=lambda t: "PayPal" in t and bool(CJK.search(t)))


XSS = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>'


async def test_markup_from_a_shopper_is_shown_as_text_in_the_console(browser, live_server):
    base = str(live_server.make_url("/"))
    agent_ctx, console, console_problems = await open_console(browser, base)
    shopper_ctx, shopper = await open_demo(browser, live_server)
    await open_chat(shopper)
    conversation_id = await shopper.evaluate("ShopkeepWidget.conversationId")
    await ask(shopper, XSS)
    await ask(shopper, "I want to talk to a person")
    await shows_up_live(console, conversation_id)

    view = await open_conversation(console, conversation_id)
    user_texts = await view.locator(
        "[data-role=transcript] [data-role=entry][data-from=user] [data-role=entry-text]").all_text_contents()
    assert XSS in user_texts
    transcript = view.locator("[data-role=transcript]")
    assert await transcript.locator("img").count() == 0
    assert await transcript.locator("script").count() == 0
    assert await console.locator("[data-role=queue] img, [data-role=queue] script").count() == 0
    await console.wait_for_timeout(300)  # an onerror handler would have run by now
    assert await console.evaluate("typeof window.__xss") == "undefined"
    assert await shopper.evaluate("typeof window.__xss") == "undefined"
    assert console_problems.dialogs == []
    no_problems(console_problems)
    await shopper_ctx.close()
    await agent_ctx.close()


async def test_the_conversation_shows_what_the_bot_did(browser, live_server):
    base = str(live_server.make_url("/"))
    agent_ctx, console, console_problems = await open_console(browser, base)
    shopper_ctx, shopper = await open_demo(browser, live_server)
    await open_chat(shopper)
    conversation_id = await shopper.evaluate("ShopkeepWidget.conversationId")
    await ask(shopper, "I want to talk to a person")
    await shows_up_live(console, conversation_id)

    view = await open_conversation(console, conversation_id)
    asked = view.locator("[data-role=transcript] [data-role=entry][data-from=user]").filter(
        has_text="I want to talk to a person")
    trace = asked.locator("[data-role=trace]")
    await trace.wait_for(state="visible")
    assert "intent human_handoff" in await trace.text_content()
    no_problems(console_problems)
    await shopper_ctx.close()
    await agent_ctx.close()


async def test_an_internal_note_never_reaches_the_shopper(browser, live_server):
    base = str(live_server.make_url("/"))
    agent_ctx, console, console_problems = await open_console(browser, base)
    shopper_ctx, shopper = await open_demo(browser, live_server)
    await open_chat(shopper)
    conversation_id = await shopper.evaluate("ShopkeepWidget.conversationId")
    await ask(shopper, "I want to talk to a person")
    await shows_up_live(console, conversation_id)

    view = await open_conversation(console, conversation_id)
    note = "Internal: shopper sounds like a repeat customer, check order SK-1002 first"
    await view.locator("[data-role=note-input]").fill(note)
    await view.locator("[data-role=note-add]").click()
    shown = view.locator("[data-role=transcript] [data-role=note]").filter(has_text=note)
    await shown.wait_for(state="visible")
    assert await shown.locator("[data-role=note-text]").text_content() == note
    assert "bob" in await shown.text_content()

    # a reply sent after the note reaches the shopper; by then the note would have too
    await take_over(console, view)
    await reply(console, view, "Thanks for waiting, I am looking into it.")
    await shopper_sees(shopper, "agent", "Thanks for waiting")
    assert note not in await shopper.evaluate("document.body.innerText")
    assert note not in await shopper.evaluate("document.documentElement.outerHTML")
    assert "SK-1002 first" not in await shopper.evaluate("JSON.stringify(window.__frames)")
    # still there after a refetch of the conversation (live frames came for the reply)
    assert await view.locator("[data-role=transcript] [data-role=note]").filter(has_text=note).count() == 1
    no_problems(console_problems)
    await shopper_ctx.close()
    await agent_ctx.close()
