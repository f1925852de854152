"""Rasa's intent payloads: `/intent`, `/intent@0.8`, `/intent{"entity": "value"}`.

Buttons send these instead of words (`/inform{"priority":"high"}`), and a
Rasa project's stories and tests use them too. They are read directly, never
classified. The shape, after stripping surrounding whitespace:

    /<intent>[@<confidence>][{<JSON object>}]

<intent> starts with a word character and is made of word characters, dots,
slashes and dashes (`greet`, `faq/payment_methods`, `trigger_handoff`);
<confidence> is a decimal number (above 1 it counts as 1). Anything else that merely starts with "/" ("/ what?",
"/returns page") is not a payload and goes to the classifier.

Like Rasa's RegexMessageHandler: the intent comes with confidence 1.0 (or the
one given) and is the only entry of intent_ranking; each key of the JSON
object is an entity, and a list value gives one entity per item. A malformed
JSON part (anything from a "{" after the intent that is not one JSON object)
keeps the intent, drops the entities and logs a warning. Unlike
Rasa, an intent the model does not know is accepted: this module cannot see
the domain, and the dialogue decides what an unknown intent means.

Each entity's start and end are the span of the JSON object in the message
(Rasa 3 gives the whole message's span): there is no word in the text to point
at, and the JSON object is where the value was written.
"""

from __future__ import annotations

import json
import logging
import re

log = logging.getLogger(__name__)

PAYLOAD_EXTRACTOR = "payload"
PAYLOAD = re.compile(
    r"/(?P<intent>\w[\w./-]*)"
    r"(?:@(?P<confidence>\d+(?:\.\d*)?|\.\d+))?"
    r"(?P<entities>\{.*)?",  # a JSON object; anything else from "{" on is a malformed one
    re.DOTALL,
)


def is_payload(text: str) -> bool:
    return PAYLOAD.fullmatch(text.strip()) is not None


def parse_payload(text: str) -> dict | None:
    """Rasa-style parse data for a payload message, or None when `text` is not one."""
    stripped = text.strip()
    match = PAYLOAD.fullmatch(stripped)
    if match is None:
        return None
    intent = match.group("intent")
    confidence = 1.0
    if match.group("confidence") is not None:
        confidence = float(match.group("confidence"))
        if confidence > 1.0:
            log.warning("payload %r: confidence %s is above 1; using 1.0", stripped, match.group("confidence"))
            confidence = 1.0
    entities = []
    if match.group("entities") is not None:
        leading = len(text) - len(text.lstrip())
        entities = _entities(match.group("entities"), leading + match.start("entities"), stripped)
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": entities,
    }


def _entities(raw: str, start: int, message: str) -> list[dict]:
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as exc:
        log.warning("payload %r: the entities are not valid JSON (%s); continuing without them", message, exc.msg)
        return []
    if not isinstance(spec, dict):
        log.warning("payload %r: the entities must be a JSON object; continuing without them", message)
        return []
    end = start + len(raw)
    entities = []
    for name, values in spec.items():
        for value in values if isinstance(values, list) else [values]:
            entities.append({"entity": name, "value": value, "start": start, "end": end,
                             "extractor": PAYLOAD_EXTRACTOR})
    return entities
