"""Custom actions, written with rasa-sdk.

The bot runs them in process by default; the same package runs as a standard
Rasa action server:  python -m rasa_sdk --actions actions
"""

from actions.handoff import ActionHandoffToHuman
from actions.order_status import ActionOrderStatus, ValidateOrderStatusForm

__all__ = ["ActionHandoffToHuman", "ActionOrderStatus", "ValidateOrderStatusForm"]
