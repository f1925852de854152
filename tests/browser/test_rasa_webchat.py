"""rasa-webchat itself (from npm, tests/browser/webchat) in headless Chromium,
on a store page of another origin, talking to the bot's Rasa socket.io channel.

The page (webchat/index.html and the package's browser bundle,
node_modules/rasa-webchat/lib/index.js, a UMD build exposing window.WebChat)
is served by a small static app on a port of its own; the bot allows that
page's origin, as a store owner would."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from bot.server import init_app

WEBCHAT = Path(__file__).parent / "webchat"
NODE_MODULES = WEBCHAT / "node_modules"
BUNDLE = NODE_MODULES / "rasa-webchat" / "lib" / "index.js"
TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not NODE_MODULES.is_dir(),
                       reason=f"{NODE_MODULES} is missing: run `npm ci --prefix {WEBCHAT}` (make test does)"),
]


@pytest.fixture
async def store_page(aiohttp_server):
    """The store's page with rasa-webchat, on its own port (another origin than the bot's)."""
    assert BUNDLE.is_file(), f"rasa-webchat's browser bundle is not at {BUNDLE}"

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEBCHAT / "index.html")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_static("/node_modules", NODE_MODULES, follow_symlinks=True)
    return await aiohttp_server(app)


@pytest.fixture
async def bot(aiohttp_server, config, models, store_page):
    """The bot, allowing the store page's origin on its socket.io channel."""
    origin = f"http://{store_page.host}:{store_page.port}"
    widget = replace(config.channels.widget, allowed_origins=(origin,))
    return await aiohttp_server(init_app(replace(config, channels=replace(config.channels, widget=widget)), models))


@pytest.fixture
async def open_chat(browser, store_page, bot):
    """open_chat(init_payload) -> the page, its widget opened; `page.errors` collects uncaught JS errors."""
    from playwright.async_api import expect

    context = await browser.new_context()
    # a closed network: only the two local servers (rasa-webchat's CSS imports a web font)
    await context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())

    async def open_(init_payload: str | None = None):
        page = await context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        query = {"socketUrl": str(bot.make_url("")).rstrip("/")}
        if init_payload is not None:
            query["initPayload"] = init_payload
        await page.goto(str(store_page.make_url("/").with_query(query)))
        await page.locator(".rw-launcher").click(timeout=TIMEOUT_MS)
        await expect(page.locator(".rw-new-message")).to_be_enabled(timeout=TIMEOUT_MS)
        return page

    yield open_
    await context.close()


async def send(page, text: str) -> None:
    await page.locator(".rw-new-message").fill(text)
    await page.locator(".rw-new-message").press("Enter")


def bot_bubble(page, text: str):
    return page.locator(".rw-response .rw-message-text").filter(has_text=text)


async def test_rasa_webchat_greets_and_answers_a_typed_question(open_chat):
    from playwright.async_api import expect

    page = await open_chat("/greet")
    await expect(bot_bubble(page, "I'm the Maple & Pine assistant")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator(".rw-reply")).to_have_text(["Track my order", "Shipping times", "Returns"])

    await send(page, "How long does shipping take?")
    await expect(page.locator(".rw-client").filter(has_text="How long does shipping take?")).to_be_visible()
    answer = bot_bubble(page, "3 to 5 business days")
    await expect(answer).to_be_visible(timeout=TIMEOUT_MS)
    await expect(answer.get_by_role("link", name="How long does shipping take?")).to_be_visible()  # Source: [..](..)

    await send(page, "Do you sell a Dutch oven?")
    await expect(page.locator(".rw-carousel-card-title").filter(has_text="Enamelled Dutch Oven 5.5 qt")).to_be_visible(
        timeout=TIMEOUT_MS)
    await expect(bot_bubble(page, "not processed")).to_have_count(0)
    assert page.errors == []


async def test_opening_rasa_webchat_with_its_default_init_payload_shows_no_error(open_chat):
    from playwright.async_api import expect

    page = await open_chat()
    await send(page, "How long does shipping take?")
    await expect(bot_bubble(page, "3 to 5 business days")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(bot_bubble(page, "not processed")).to_have_count(0, timeout=1000)


async def test_rasa_webchat_source_links_and_product_images_lead_to_the_bot(open_chat, bot):
    from playwright.async_api import expect

    page = await open_chat("/greet")
    await send(page, "How long does shipping take?")
    link = bot_bubble(page, "3 to 5 business days").get_by_role("link")
    await expect(link).to_be_visible(timeout=TIMEOUT_MS)
    await send(page, "Do you sell a Dutch oven?")
    image = page.locator("img.rw-carousel-card-image").first
    await expect(image).to_be_attached(timeout=TIMEOUT_MS)
    bot_url = str(bot.make_url("/"))
    assert (await link.evaluate("a => a.href")).startswith(bot_url)
    assert (await image.evaluate("img => img.src")).startswith(bot_url)
