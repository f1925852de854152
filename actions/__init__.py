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
           "ActionAskNewAddress", "ActionAskReturnItem", "ActionCancelOrder", "ActionChangeAddress",
           "ActionCreateReturn", "ActionHandoffToHuman", "ActionOrderStatus", "ActionRecommend",
           "ActionReviewSummary", "ValidateAddressChangeForm", "ValidateCancelOrderForm", "ValidateOrderStatusForm",
           "ValidateReturnForm"]
