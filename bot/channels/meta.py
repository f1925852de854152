"""What WhatsApp (Cloud API) and Messenger share: one Meta app, its webhook
checks and the Graph API's answers.

Verified by the header X-Hub-Signature-256, which Meta sends with every
event: "sha256=" + the hex HMAC-SHA256 of the raw body, keyed with the
app's secret; compared in constant time before the body is read.
Source: https://developers.facebook.com/docs/graph-api/webhooks/getting-started

Subscribing: when the webhook URL is saved in the app dashboard, Meta calls
GET /webhooks/<platform>?hub.mode=subscribe&hub.verify_token=T&hub.challenge=N;
the bot answers N (text/plain) when T is its verify token (constant time), else 403.

Sending: the Graph API answers errors as {"error": {"message", "type",
"code", "error_subcode"?, "is_transient"?, "fbtrace_id"}}; 429, 5xx, the
throttling codes and transient errors are tried again, the rest give up.
Source: https://developers.facebook.com/docs/graph-api/guides/error-handling

Both platforms take free-form messages only within 24 hours of the
shopper's last message (the customer-service window); later ones are not
sent, and the failure is logged and kept for the handoff console.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import ClassVar

from aiohttp import web

from bot.channels.base import ChannelError, error_response
from bot.channels.webhooks import (
    WINDOW_CLOSED,
    MessagingChannel,
    SendFailed,
    customer_service_window,
    json_body,
    refused,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
# Graph throttling: app (4), user (17), page (32), custom (613), ads account (80007), WhatsApp cloud API
# (130429), WhatsApp pair rate limit (131056: too many messages to one shopper; wait and send again).
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131056})
# (code, subcode or None for any): the platform refused a message because the window is closed.
# 131047: WhatsApp "re-engagement message"; 10/2018278: Messenger "sent outside of allowed window".
WINDOW_ERRORS = frozenset({(131047, None), (10, 2018278)})


def check(status: int, headers, body):
    """The Graph API's answers: 2xx, the body; an error as Retryable (429,
    5xx, throttling codes, `is_transient`) or SendFailed (with its code; a
    closed window's reason starts with WINDOW_CLOSED)."""
    error = body.get("error") if isinstance(body, dict) else None
    if 200 <= status < 300 and not error:
        return body
    if not isinstance(error, dict):
        raise refused(status, headers, f"HTTP {status}: {(body if isinstance(body, str) else str(body))[:300]}")
    code, subcode = error.get("code"), error.get("error_subcode")
    detail = f"Graph error {code}{f'/{subcode}' if subcode else ''}: {error.get('message') or error.get('type')}"
    if error.get("fbtrace_id"):
        detail += f" (fbtrace_id {error['fbtrace_id']})"
    if (code, subcode) in WINDOW_ERRORS or (code, None) in WINDOW_ERRORS:
        raise SendFailed(f"{WINDOW_CLOSED} ({detail})", status, code)
    raise refused(status, headers, f"HTTP {status}: {detail}", code,
                  retryable=code in RATE_LIMIT_CODES or bool(error.get("is_transient")))


def verify_signature(request: web.Request, body: bytes, app_secret: str) -> None:
    """ChannelError 401 unless X-Hub-Signature-256 is the app secret's HMAC-SHA256 of `body`."""
    given = request.headers.get(SIGNATURE_HEADER)
    if given is None:
        raise ChannelError(401, f"missing {SIGNATURE_HEADER} header")
    expected = SIGNATURE_PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ChannelError(401, f"wrong {SIGNATURE_HEADER}: it does not match the body signed with the app secret")


def handshake(request: web.Request, verify_token: str) -> web.Response:
    """Meta's subscription check: hub.challenge (text/plain) when hub.mode is
    "subscribe" and hub.verify_token is ours; 403 otherwise."""
    mode = request.query.get("hub.mode", "")
    token = request.query.get("hub.verify_token", "")
    if mode != "subscribe" or not hmac.compare_digest(token.encode(), verify_token.encode()):
        log.warning("webhook subscription check from %s refused: %s", request.remote,
                    "wrong hub.verify_token" if mode == "subscribe" else f"hub.mode is {mode!r}, not 'subscribe'")
        return error_response(ChannelError(403, "wrong hub.verify_token or hub.mode"))
    challenge = request.query.get("hub.challenge", "")
    if not challenge:
        return error_response(ChannelError(400, "missing hub.challenge"))
    return web.Response(text=challenge, content_type="text/plain")


class MetaChannel(MessagingChannel):
    """A platform of one Meta app (`MetaCredentials`): its signature, its
    subscription check, the 24-hour window and Graph API calls."""

    title: ClassVar[str]  # "WhatsApp", for messages
    object_type: ClassVar[str]  # the webhook body's "object": "whatsapp_business_account", "page"

    def entries(self, body: bytes) -> list[dict]:
        """The webhook body's entries; [] for another object type (acknowledged,
        ignored). ChannelError 400 for a body that is not a notification."""
        notification = json_body(body)
        if not isinstance(notification, dict) or not isinstance(notification.get("entry"), list):
            raise ChannelError(400, f"a {self.title} webhook body is a JSON object with an 'entry' list")
        if notification.get("object") != self.object_type:
            log.info("%s webhook: object %r ignored", self.name, notification.get("object"))
            return []
        return [entry for entry in notification["entry"] if isinstance(entry, dict)]

    def verify(self, request: web.Request, body: bytes) -> None:
        verify_signature(request, body, self.credentials.app_secret)

    async def handshake(self, request: web.Request) -> web.Response:
        return handshake(request, self.credentials.verify_token)

    may_number_buttons = True  # more buttons than the platform shows go out as numbered options

    def window_closed(self, record: dict) -> str | None:
        return customer_service_window(record)

    @property
    def access_token(self) -> str:
        return self.credentials.access_token

    async def graph(self, path: str, payload: dict, what: str) -> dict:
        """POST `payload` to the Graph API at `path` with the access token. Raises SendFailed."""
        return await self.api.call("POST", f"{self.credentials.api_url.rstrip('/')}/{path.lstrip('/')}",
                                   json=payload, headers={"Authorization": f"Bearer {self.access_token}"},
                                   check=check, what=what)
