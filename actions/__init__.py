"""Custom actions, written with rasa-sdk.

The bot runs them in process by default; the same package runs as a standard
Rasa action server:  python -m rasa_sdk --actions actions
Each is thin: the store's records come from `knowledge.shop`, its policy
decisions from `knowledge.shop.policy`, the words from `actions.replies`.
"""

from actions.cancel_order import ActionAskConfirmCancel, ActionCancelOrder, ValidateCancelOrderForm
from actions.change_address import (
    ActionAskConfirmAddress,
    ActionAskNewAddress,
    ActionChangeAddress,
    ValidateAddressChangeForm,
)
from actions.handoff import ActionHandoffToHuman
from actions.order_forms import ActionAskOrderId
from actions.order_status import ActionOrderStatus, ValidateOrderStatusForm
from actions.recommend import ActionRecommend
from actions.returns import (
    ActionAskConfirmReturn,
    ActionAskExchangeFor,
    ActionAskReturnItem,
    ActionCreateReturn,
    ValidateReturnForm,
)
from actions.reviews import ActionReviewSummary

__all__ = ["ActionAskConfirmAddress", "ActionAskConfirmCancel", "ActionAskConfirmReturn", "ActionAskExchangeFor",
           "ActionAskNewAddress", "ActionAskOrderId", "ActionAskReturnItem", "ActionCancelOrder", "ActionChangeAddress",
           "ActionCreateReturn", "ActionHandoffToHuman", "ActionOrderStatus", "ActionRecommend",
           "ActionReviewSummary", "ValidateAddressChangeForm", "ValidateCancelOrderForm", "ValidateOrderStatusForm",
           "ValidateReturnForm"]


def _warm_up_on_an_action_server() -> None:
    """On `python -m rasa_sdk`, build the recommender and load the sentiment model in the
    background at start, so the first shopper to ask is not kept waiting past the bot's
    action timeout. (In the bot's own process they are built on first use.)"""
    import asyncio
    import sys
    import threading

    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", "") != "rasa_sdk.__main__":
        return

    async def build() -> None:
        from actions import store_data
        from actions.recommend import recommender

        await recommender()
        await store_data.shop().close()  # its connections belong to this loop; the server opens its own

    def warm() -> None:
        from lm.sentiment import get_analyser

        asyncio.run(build())
        get_analyser().warm_up()

    threading.Thread(target=warm, name="warm-up", daemon=True).start()


_warm_up_on_an_action_server()

