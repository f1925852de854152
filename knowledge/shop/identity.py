"""Proving that a shopper owns an order before anything about it is shown.

Three proofs are accepted: the e-mail address on the order, the postcode of
its shipping address, or a customer token the store's own site signed for a
logged-in shopper and passed in the message metadata (`customer_token`): a
JWT (RFC 7519) signed with HS256 and the shared secret
($SHOPKEEP_CUSTOMER_TOKEN_SECRET), whose `email` claim (or `sub`, when it is
an e-mail address) names the customer, with an `exp` claim.
"""

from __future__ import annotations

import re

import jwt

from knowledge.shop import Order, normalise_email, normalise_postcode

CUSTOMER_TOKEN_KEY = "customer_token"  # where channels pass the token, in a message's metadata
EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}")
# Postcodes of most countries: 3-10 letters and digits with at most two spaces or dashes, at least one digit.
POSTCODE = re.compile(r"(?=[A-Za-z0-9 -]*\d)[A-Za-z0-9]{2,5}(?:[ -]?[A-Za-z0-9]{1,5}){0,2}")


def looks_like_proof(text: str) -> bool:
    """True when `text` is shaped like an e-mail address or a postcode (so a
    question typed instead is not counted as a failed attempt)."""
    text = (text or "").strip()
    return bool(EMAIL.fullmatch(text) or (len(text) <= 12 and POSTCODE.fullmatch(text)))


def proves_ownership(order: Order, claim: str) -> bool:
    """True when `claim` is the order's e-mail address or shipping postcode
    (case, spaces and dashes ignored)."""
    claim = (claim or "").strip()
    if not claim:
        return False
    if "@" in claim:
        return bool(order.email) and normalise_email(claim) == normalise_email(order.email)
    postcode = normalise_postcode(order.shipping_address.postcode)
    return bool(postcode) and normalise_postcode(claim) == postcode


def token_email(token: str | None, secret: str | None) -> str | None:
    """The customer's e-mail address from a valid, unexpired customer token,
    else None (no token, no secret configured, a bad signature, expired,
    or no e-mail claim)."""
    if not token or not secret or not isinstance(token, str):
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return None
    email = claims.get("email") or claims.get("sub")
    return normalise_email(email) if isinstance(email, str) and "@" in email else None
