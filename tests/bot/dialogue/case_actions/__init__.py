"""Custom actions for tests/bot/dialogue/test_rasa_cases.py, written as Rasa projects write theirs.

Their names start with `action_case_` / `validate_case_`: rasa-sdk's executor registers every Action
subclass loaded in the process, so they must not collide with the demo store's `actions` package."""

from rasa_sdk import Action, FormValidationAction
from rasa_sdk.events import BotUttered, SlotSet


class SayBalance(Action):
    """financial-demo's utter_account_balance: template values that are not slots (case A09)."""

    def name(self):
        return "action_case_balance"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_case_balance", currency="$", init_account_balance=120.5)
        return []


class SayStatus(Action):
    """A keyword argument that has the name of a slot: the argument wins, as in Rasa (case A09)."""

    def name(self):
        return "action_case_status"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_case_status", status="delivered")
        return []


class SayStatusLegacy(Action):
    """retail-demo's `template=` spelling of `response=` (case A09)."""

    def name(self):
        return "action_case_status_legacy"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(template="utter_case_status", status="packed")
        return []


class SayPartial(Action):
    """A template with a placeholder that neither a slot nor an argument fills (case A09)."""

    def name(self):
        return "action_case_partial"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_case_partial", status="on its way")
        return []


class SayWithButtons(Action):
    """A response with buttons, filled by an argument: the buttons are kept (case A09)."""

    def name(self):
        return "action_case_buttons"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_case_pick", count=2)
        return []


class GiveName(Action):
    """retail-demo's GiveName: the reply is a BotUttered event with metadata (case A11)."""

    def name(self):
        return "action_case_give_name"

    def run(self, dispatcher, tracker, domain):
        return [BotUttered(text="I'm Pip, the shop's assistant.", metadata={"nameGiven": "Pip"})]


class OfferSizes(Action):
    """A BotUttered event with buttons in its data (case A11)."""

    def name(self):
        return "action_case_offer_sizes"

    def run(self, dispatcher, tracker, domain):
        buttons = [{"title": "Small", "payload": '/choose{"size": "S"}'},
                   {"title": "Large", "payload": '/choose{"size": "L"}'}]
        return [BotUttered(text="Which size?", data={"buttons": buttons})]


class TwoWays(Action):
    """One message through the dispatcher, one as a BotUttered event: both are sent, the
    dispatcher's first, as Rasa sends them (case A11)."""

    def name(self):
        return "action_case_two_ways"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="Checking the stock...")
        return [BotUttered(text="All sizes are in stock.")]


class CustomCard(Action):
    """A BotUttered event without text: only a custom payload (case A11)."""

    def name(self):
        return "action_case_card"

    def run(self, dispatcher, tracker, domain):
        return [BotUttered(data={"custom": {"card": "gift", "amount": 25}})]


class LookUpOrder(Action):
    """Says the order's status and forgets the order number, for the next lookup (case A05)."""

    def name(self):
        return "action_case_lookup"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text=f"Order {tracker.get_slot('order_ref')} is on its way.")
        return [SlotSet("order_ref", None)]


class FinishSurvey(Action):
    """Thanks the shopper and remembers that the survey was answered (case A05)."""

    def name(self):
        return "action_case_finish_survey"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="Thanks for rating us!")
        return [SlotSet("survey_done", True), SlotSet("rating", None)]


class Crash(Action):
    """An action with a bug (case B23)."""

    def name(self):
        return "action_case_crash"

    def run(self, dispatcher, tracker, domain):
        raise RuntimeError("the shop's API changed")


class ValidateCrashingForm(FormValidationAction):
    """A form validation with a bug: it raises on every value (case B23)."""

    def name(self):
        return "validate_case_booking_form"

    def validate_guests(self, slot_value, dispatcher, tracker, domain):
        raise RuntimeError("the booking service is down")
