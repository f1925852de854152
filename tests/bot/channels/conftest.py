"""What the messaging platforms' tests share: a local stand-in for the platform's send API."""

import pytest

from tests.bot.channels.standin import StandIn


@pytest.fixture
async def api(request):
    """The stand-in for the send API of the platform a test module tests; the module's `ok(call)`
    gives the platform's documented success answer."""
    standin = await StandIn(request.module.ok).start()
    yield standin
    await standin.close()
