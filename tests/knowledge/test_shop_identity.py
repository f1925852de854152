"""Reading a shopper's proof of an order, and checking it."""

import time

import jwt
import pytest

from knowledge.shop import Address, Order, OrderLine
from knowledge.shop.identity import find_proof, proves_ownership, token_email

ORDER = Order(order_id="SK-1", status="shipped", email="Sam.Lee@example.com", total=1.0,
              items=(OrderLine("A", "a", 1, 1.0),), shipping_address=Address(postcode="98101"))


@pytest.mark.parametrize("message, proof", [
    ("sam.lee@example.com", "sam.lee@example.com"),
    ("my email is sam.lee@example.com", "sam.lee@example.com"),
    ("email:sam.lee@example.com", "sam.lee@example.com"),
    ("邮箱是sam.lee@example.com", "sam.lee@example.com"),
    ("我的邮箱是sam.lee@example.com。", "sam.lee@example.com"),
    ("98101", "98101"),
    ("postcode 98101", "98101"),
    ("zip code is 98101, thanks", "98101"),
    ("邮编是94107", "94107"),
    ("it's 98101", "98101"),
    ("SW1A 2AA", "SW1A 2AA"),
    ("do you price match?", None),
    ("the lamp", None),
    ("I want to talk to a human", None),
])
def test_proof_is_found_in_what_shoppers_write(message, proof):
    assert find_proof(message) == proof


def test_ownership_ignores_case_spaces_and_zip_plus_four():
    assert proves_ownership(ORDER, "SAM.LEE@EXAMPLE.COM")
    assert proves_ownership(ORDER, "98101-1234") and proves_ownership(ORDER, " 98101 ")
    assert not proves_ownership(ORDER, "98102") and not proves_ownership(ORDER, "sam@example.com")
    assert not proves_ownership(ORDER, "")


def test_customer_tokens_need_the_secret_and_an_expiry():
    secret = "a-secret-long-enough-for-hs256-tokens!"
    good = jwt.encode({"email": "Sam.Lee@example.com", "exp": int(time.time()) + 60}, secret, algorithm="HS256")
    assert token_email(good, secret) == "sam.lee@example.com"
    assert token_email(good, "another-secret-long-enough-for-hs256!!") is None
    expired = jwt.encode({"email": "a@b.co", "exp": int(time.time()) - 60}, secret, algorithm="HS256")
    no_expiry = jwt.encode({"email": "a@b.co"}, secret, algorithm="HS256")
    unsigned = jwt.encode({"email": "a@b.co", "exp": int(time.time()) + 60}, None, algorithm="none")
    assert token_email(expired, secret) is None and token_email(no_expiry, secret) is None
    assert token_email(unsigned, secret) is None and token_email(good, None) is None
