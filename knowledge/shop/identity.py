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
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Postcodes of most countries: 3-10 letters and digits with at most two spaces or dashes, at least one digit.
POSTCODE = re.compile(r"(?=[A-Za-z0-9 -]*\d)[A-Za-z0-9]{2,5}(?:[ -]?[A-Za-z0-9]{1,5}){0,2}")


def looks_like_proof(text: str) -> bool:
    """True when `text` is shaped like an e-mail address or a postcode (so a
    question typed instead is not counted as a failed attempt)."""
    text = (text or "").strip()
    return bool(EMAIL.fullmatch(text) or (len(text) <= 12 and POSTCODE.fullmatch(text)))


# "my postcode is 94107", "zip: 94107", "邮编是94107": the words around a postcode
_POSTCODE_WORDS = re.compile(r"\b(?:my\s+)?(?:post\s*code|postal\s+code|zip(?:\s*code)?)\b(?:\s+is)?\s*[:：]?\s*"
                             r"|(?:我的)?邮编(?:是|为)?\s*[:：]?\s*", re.IGNORECASE)


def find_proof(text: str) -> str | None:
    """The e-mail address or postcode in a message: the message itself when it is
    one, else an e-mail address inside it ("my email is a@b.com"), else what follows
    "postcode"/"zip"/"邮编"; None when it holds neither."""
    text = (text or "").strip().rstrip(".。!！")
    if looks_like_proof(text):
        return text
    if m := EMAIL.search(text):
        return m.group()
    if m := _POSTCODE_WORDS.search(text):
        rest = text[m.end():].strip()
        candidate = re.match(r"[A-Za-z0-9]+(?:[ -][A-Za-z0-9]+)?", rest)
        if candidate and looks_like_proof(candidate.group()):
            return candidate.group()
    # "it's 98101": the one postcode-shaped word in the message
    shaped = [w for w in re.findall(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?", text)
              if re.search(r"\d", w) and looks_like_proof(w)]
    return shaped[0] if len(shaped) == 1 else None


def proves_ownership(order: Order, claim: str) -> bool:
    """True when `claim` is the order's e-mail address or shipping postcode
    (case, spaces and dashes ignored)."""
    claim = (claim or "").strip()
    if not claim:
        return False
    if "@" in claim:
        return bool(order.email) and normalise_email(claim) == normalise_email(order.email)
    postcode = normalise_postcode(order.shipping_address.postcode)
    given = normalise_postcode(claim)
    if re.fullmatch(r"\d{9}", given) and re.fullmatch(r"\d{5}", postcode):
        given = given[:5]  # a US ZIP+4 ("98101-1234") proves its ZIP
    return bool(postcode) and given == postcode


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
