"""Catalogue responses are cached per process until the catalogue version moves."""

import pytest

from shop import create_app
from shop.catalogue.models import Variant
from shop.catalogue_version import bump_catalogue_version

URL = "/api/v1/products/moist-hyaluronic-acid-serum"


@pytest.fixture
def cached_client(app_config, db_session):
    return create_app({**app_config, "CATALOGUE_RESPONSE_CACHE_SECONDS": 60}).test_client()


def first_price(client) -> int:
    return client.get(URL).json["variants"][0]["price"]["amount"]


def test_repeat_reads_come_from_the_cache_until_a_catalogue_write(cached_client, db_session):
    before = first_price(cached_client)
    variant = db_session.query(Variant).filter_by(sku="GLW-SER-MOIST-15").one()
    variant.price_amount = before + 500
    db_session.flush()
    assert first_price(cached_client) == before  # served from the cache
    bump_catalogue_version(session=db_session)
    assert first_price(cached_client) == before + 500


def test_cached_responses_keep_etags_and_304s(cached_client):
    first = cached_client.get(URL)
    second = cached_client.get(URL, headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 304
    assert cached_client.get(URL).headers["ETag"] == first.headers["ETag"]


def test_errors_are_not_cached(cached_client):
    assert cached_client.get("/api/v1/products/nope").status_code == 404
    assert cached_client.get("/api/v1/products?per_page=0").status_code == 422
