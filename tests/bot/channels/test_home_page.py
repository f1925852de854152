"""The page at `/`: the demo store's for the demo, a plain one with the widget for any other store."""


async def test_the_home_page_is_the_demo_stores_only_for_the_demo(aiohttp_client, tmp_path):
    """`GET /` of another store (a Rasa project) is a plain page with its name and the widget."""
    from dataclasses import replace

    from aiohttp import web

    from bot.channels.widget import demo_page
    from bot.config import load_config
    from bot.typedefs import config_key

    demo = load_config(env={"SHOPKEEP_DATA_DIR": str(tmp_path)})
    for config, expected in ((demo, "Made to last"), (replace(demo, store_name="helpdesk-assistant",
                                                              source=tmp_path / "x.yml"), "helpdesk-assistant")):
        app = web.Application()
        app[config_key] = config
        app.router.add_get("/", demo_page)
        client = await aiohttp_client(app)
        page = await (await client.get("/")).text()
        assert expected in page and "/widget.js" in page
        assert ("Maple" in page) == (config is demo)
