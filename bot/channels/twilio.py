"""Twilio SMS and WhatsApp: POST /webhooks/twilio (Programmable Messaging).

Verified by the header X-Twilio-Signature: base64(HMAC-SHA1(auth token, the
URL Twilio called + each POST parameter, sorted by name, as name + value)),
compared in constant time. The URL must be exactly the one Twilio called:
`server.public_url` + the request's path and query when it is set (behind
a proxy), else the request's own URL (which honours X-Forwarded-* from
`server.trusted_proxies`); with and without the scheme's default port, as
Twilio's own libraries accept. The form's AccountSid must then be the
configured account (403 otherwise). Twilio posts form-encoded bodies; the
signature is checked on the same parameters that are then read.
Source: https://www.twilio.com/docs/usage/security#validating-requests

Read: MessageSid (the event id, for deduplication), From (the shopper:
"+15551234567" or "whatsapp:+15551234567"), To (the store's number, which
replies are sent from), Body, ProfileName (WhatsApp), the first attachment
(NumMedia, MediaUrl0, MediaContentType0: an image, or anything else),
a WhatsApp location (Latitude, Longitude, Label, Address) and a WhatsApp
quick-reply button (ButtonPayload is the payload, ButtonText the text
shown). Twilio sends no timestamp, so an event is dated when it arrives.
Ignored, and acknowledged: status callbacks (MessageStatus, or an SmsStatus
other than "received"), should one be pointed at this URL, and the SMS
keywords Twilio answers itself (STOP, HELP, START and their synonyms: the
shopper gets Twilio's confirmation, and the bot does not reply to an opt-out).

SMS has no buttons: buttons are sent as numbered options ("1. Track my
order"), the last ones sent are kept per conversation in Redis
({prefix}:options:{conversation id}, for the session TTL), and a reply that
is only a number ("2", " 2. ") runs that option's payload, its title shown.
A bot or person's message without buttons forgets them.

Acknowledged with an empty TwiML response: replies go through the REST API
(POST /2010-04-01/Accounts/{sid}/Messages.json, HTTP Basic auth), bodies
split at 1,600 characters, product cards as text with their picture as
MediaUrl (absolute http(s), not SVG), sources as a "Source: ..." line.
WhatsApp numbers have the 24-hour customer-service window: outside it a
free-form message is not sent (logged and recorded for the console), and
Twilio's error 63016 is reported the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import aiohttp
from aiohttp import web

from bot.channels.base import ChannelError
from bot.channels.webhooks import (
    WINDOW_CLOSED,
    Inbound,
    MessagingChannel,
    SendFailed,
    absolute,
    card_lines,
    customer_service_window,
    numbered,
    record_lang,
    refused,
    sources_line,
    split_text,
)
from bot.typedefs import config_key

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
TEXT_LIMIT = 1600  # Twilio's longest message body
WHATSAPP = "whatsapp:"
WINDOW_ERROR = 63016  # Twilio: "Outside messaging window. For WhatsApp, use a Message Template instead"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SID = re.compile(r"^[A-Za-z0-9]{2,64}$")
DEFAULT_PORTS = {"https": 443, "http": 80}
# SMS keywords Twilio answers itself (Advanced Opt-Out's defaults), matched without case, spaces or
# punctuation ("Stop."): opt-out ones, after which it refuses messages to that number (error 21610), help
# ones and the opt-in ones START and UNSTOP. (YES, also an opt-in keyword, still reaches the bot: it is a
# shopper's answer too.) Source: https://help.twilio.com/articles/223134027
CARRIER_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
                              "HELP", "INFO", "START", "UNSTOP"})


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's request signature for a POST to `url` with form `params`."""
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def form(body: bytes) -> list[tuple[str, str]]:
    """The form-encoded body's parameters, in order (blank values kept, as Twilio signs them)."""
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


def url_variants(url: str) -> list[str]:
    """`url`, and the same URL with its scheme's default port added or removed
    (a proxy or Twilio may write "https://host/..." or "https://host:443/...")."""
    parts = urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default is None or not host or "@" in parts.netloc:
        return [url]
    if port is None:
        other = f"{host}:{default}"
    elif port == default:
        other = host
    else:
        return [url]
    return [url, urlunsplit(parts._replace(netloc=other))]


def check(status: int, headers, body):
    """Twilio's answers: the Message resource ({"sid", "status", ...}) or an
    error {"code", "message", "more_info", "status"}; 429 and 5xx are worth
    another try, 63016 is WhatsApp's closed window."""
    fields = body if isinstance(body, dict) else {}
    code = fields.get("code") or fields.get("error_code")
    message = fields.get("message") or fields.get("error_message") or (body[:300] if isinstance(body, str) else "")
    failed = fields.get("status") in ("failed", "undelivered")  # a message refused as soon as it was made
    if 200 <= status < 300 and not (failed and code):
        return body
    if code == WINDOW_ERROR:
        raise SendFailed(f"{WINDOW_CLOSED} (Twilio error {code}: {message})", status, code)
    detail = f"HTTP {status}: Twilio error {code}: {message}" if code else f"HTTP {status}: {message}"
    raise refused(status, headers, detail, code)


class TwilioChannel(MessagingChannel):
    name = "twilio"
    may_number_buttons = True

    @property
    def _messages_url(self) -> str:
        api_url, account = self.credentials.api_url.rstrip("/"), self.credentials.account_sid
        return f"{api_url}/2010-04-01/Accounts/{account}/Messages.json"

    def _called_url(self, request: web.Request) -> str:
        """The URL Twilio called, as it signed it."""
        public_url = self.app[config_key].server.public_url
        base = public_url.rstrip("/") if public_url else f"{request.scheme}://{request.host}"
        return base + request.raw_path

    def verify(self, request: web.Request, body: bytes) -> None:
        given = request.headers.get(SIGNATURE_HEADER)
        if given is None:
            raise ChannelError(401, f"missing {SIGNATURE_HEADER} header")
        params = form(body)
        token = self.credentials.auth_token
        matches = [hmac.compare_digest(given.encode(), signature(token, url, params).encode())
                   for url in url_variants(self._called_url(request))]
        if not any(matches):
            raise ChannelError(401, f"wrong {SIGNATURE_HEADER} (signed for another URL than "
                                    f"{self._called_url(request)}, with another auth token, or altered)")
        account = dict(params).get("AccountSid", "")
        if not hmac.compare_digest(account.encode(), self.credentials.account_sid.encode()):
            raise ChannelError(403, "the message is for another Twilio account (AccountSid)")

    def parse(self, request: web.Request, body: bytes) -> list[Inbound]:
        params = dict(form(body))
        status = params.get("MessageStatus") or params.get("SmsStatus") or "received"
        if status != "received":
            return []  # a status callback for a message sent: nothing to answer
        event_id, address, via = params.get("MessageSid", ""), params.get("From", "").strip(), params.get("To", "")
        if not SID.match(event_id):
            raise ChannelError(400, "a Twilio message has a 'MessageSid' such as \"SM0123...\"")
        if not address or not via.strip() or len(address) > 128 or not address.isprintable():
            raise ChannelError(400, "a Twilio message has 'From' and 'To' addresses")
        if not address.startswith(WHATSAPP) and re.sub(r"\W", "", params.get("Body", "")).upper() in CARRIER_KEYWORDS:
            return []  # Twilio answers opt-out, opt-in and help keywords itself, and refuses sends to opted-out numbers
        event = Inbound(self.name, event_id, address, text=params.get("Body", ""), via=via.strip(),
                        name=params.get("ProfileName", ""), received_at=time.time())
        if params.get("ButtonPayload") or params.get("ButtonText"):
            event.text = params.get("ButtonPayload") or params["ButtonText"]
            event.display = params.get("ButtonText") or None
        elif params.get("Latitude") and params.get("Longitude"):
            try:
                latitude, longitude = float(params["Latitude"]), float(params["Longitude"])
            except ValueError:
                raise ChannelError(400, "'Latitude' and 'Longitude' must be numbers") from None
            event.media = {"location": {"latitude": latitude, "longitude": longitude,
                                        **({"name": params["Label"]} if params.get("Label") else {}),
                                        **({"address": params["Address"]} if params.get("Address") else {})}}
        elif params.get("NumMedia", "0").strip() not in ("", "0"):
            kind = params.get("MediaContentType0", "")
            if kind.startswith("image/") and params.get("MediaUrl0"):
                event.media = {"image": {"url": params["MediaUrl0"],
                                         **({"caption": event.text} if event.text else {})}}
            else:
                event.media = {"other": kind or "media",
                               **({"url": params["MediaUrl0"]} if params.get("MediaUrl0") else {})}
        return [event]

    def acknowledge(self) -> web.Response:
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    def window_closed(self, record: dict) -> str | None:
        """WhatsApp numbers only: why a free-form message may not be sent now, or None."""
        return customer_service_window(record) if record.get("address", "").startswith(WHATSAPP) else None

    def numbers_buttons(self, buttons: list[dict]) -> bool:
        return True  # SMS has no buttons

    # -- sending ------------------------------------------------------------------

    def render(self, message: dict, record: dict) -> list[dict]:
        lang = record_lang(record)
        if not record.get("via"):
            raise SendFailed("no Twilio number to send from (the conversation has no 'via')")
        base = {"To": record["address"], "From": record["via"]}
        buttons = message.get("buttons") or []
        text = "\n\n".join(x for x in (message.get("text", ""), sources_line(message, record, lang),
                                       numbered(buttons, lang) if buttons else "") if x)
        out = [{**base, "Body": part} for part in (split_text(text, TEXT_LIMIT) if text else [])]
        if image := _picture(message.get("image"), record):
            if out:
                out[0]["MediaUrl"] = image
            else:
                out.append({**base, "MediaUrl": image})
        for card in message.get("cards") or []:
            payload = {**base, "Body": card_lines(card, record)[:TEXT_LIMIT]}
            if picture := _picture(card.get("image"), record):
                payload["MediaUrl"] = picture
            out.append(payload)
        return out

    async def post(self, record: dict, payload: dict) -> None:
        await self.api.call("POST", self._messages_url, data=payload, check=check, what="twilio send",
                            auth=aiohttp.BasicAuth(self.credentials.account_sid, self.credentials.auth_token))


def _picture(url: str | None, record: dict) -> str | None:
    """A picture Twilio can fetch and attach: an absolute http(s) URL, not SVG."""
    link = absolute(url, record)
    return link if link and not link.lower().split("?")[0].endswith(".svg") else None
