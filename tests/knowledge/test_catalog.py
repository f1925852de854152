"""The demo catalog and the checks on catalog files."""

import json

import pytest

from knowledge.catalog import load_catalog
from knowledge.documents import KnowledgeError
from knowledge.shop import DEMO_STORE_DIR


def test_demo_catalog():
    products = load_catalog(DEMO_STORE_DIR / "products.json")
    assert len(products) == 50 and len({p.category for p in products}) >= 6
    assert all(p.reviews and p.description and p.price > 0 for p in products)
    skus = {p.sku for p in products}
    orders = json.loads((DEMO_STORE_DIR / "orders.json").read_text())
    assert len(orders) == 20
    for order in orders:  # every ordered item is in the catalog
        assert {line["sku"] for line in order["items"]} <= skus


@pytest.mark.parametrize("content, fragment", [
    ('{"sku": "a"}', "expected a list"),
    ('[{"sku": "a"}]', "product 1: product is incomplete"),
    ('[{"sku": "a", "name": "n", "category": "c", "price": -1, "description": "d"}]', "negative price"),
    ('[{"sku": "a", "name": "n", "category": "c", "price": 1, "description": "d"},'
     ' {"sku": "a", "name": "n", "category": "c", "price": 1, "description": "d"}]', "duplicate sku"),
])
def test_bad_catalogs(tmp_path, content, fragment):
    path = tmp_path / "products.json"
    path.write_text(content)
    with pytest.raises(KnowledgeError, match=fragment):
        load_catalog(path)
