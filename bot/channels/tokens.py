"""Signed conversation tokens: the server issues each website conversation's
id, signed, so a page cannot read or write another shopper's conversation by
guessing an id (itsdangerous' TimestampSigner: HMAC-SHA1 over the id and the
time it was signed)."""

from __future__ import annotations

import uuid

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from bot.channels.base import ChannelError

SALT = "shopkeep.conversation"


class ConversationTokens:
    def __init__(self, secret: bytes, max_age_s: float):
        self.signer = TimestampSigner(secret, salt=SALT)
        self.max_age_s = max_age_s

    @staticmethod
    def new_id() -> str:
        """A fresh conversation id: 32 hex digits (uuid4)."""
        return uuid.uuid4().hex

    def issue(self, conversation_id: str) -> str:
        """"<id>.<time>.<signature>", valid for `max_age_s` from now."""
        return self.signer.sign(conversation_id).decode()

    def verify(self, token: str) -> str:
        """The conversation id in `token`. Raises ChannelError 401 when the
        token is forged, malformed or older than `max_age_s`."""
        try:
            return self.signer.unsign(token, max_age=self.max_age_s).decode()
        except SignatureExpired:
            raise ChannelError(401, "the conversation token has expired; start a new conversation",
                               reason="token_expired") from None
        except (BadSignature, UnicodeDecodeError, ValueError):
            raise ChannelError(401, "the conversation token is not valid", reason="token_invalid") from None
