"""The clinic's routine endpoint: the article's advice built from the catalogue."""

import pytest

from shop.catalogue.models import Variant
from shop.inventory import services as inventory


def routine(client, **query):
    response = client.get("/api/v1/routine", query_string=query)
    assert response.status_code == 200, response.json
    return response.json


@pytest.mark.parametrize("skin_type", ["oily", "combination", "dry", "normal", "sensitive"])
def test_every_skin_gets_a_full_routine(client, skin_type):
    body = routine(client, skin_type=skin_type)
    assert [s["step"] for s in body["am"]] == ["cleanse", "treat", "hydrate"]
    assert [s["step"] for s in body["pm"]] == ["cleanse", "treat", "hydrate"]
    assert [s["step"] for s in body["weekly"]] == ["mask"]
    for slot in ("am", "pm", "weekly"):
        for step in body[slot]:
            product = step["product"]
            assert product is not None, (slot, step)
            assert product["routine_step"] == step["step"]
            assert not product["skin_types"] or skin_type in product["skin_types"]
            assert any(v["in_stock"] for v in product["variants"])


def test_times_of_use_fit_the_slot(client):
    body = routine(client, skin_type="oily", concern="enlarged-pores")
    assert all(s["product"]["time_of_use"] in ("am", "both") for s in body["am"])
    assert all(s["product"]["time_of_use"] in ("pm", "both") for s in body["pm"])


def test_enlarged_pores_routine_follows_the_article(client):
    body = routine(client, skin_type="oily", concern="enlarged-pores")
    assert "enlarged-pores" in body["am"][0]["product"]["concerns"]
    assert body["weekly"][0]["product"]["slug"] == "revitalising-clay-mask-with-sea-botanicals"
    treatments = {t["slug"] for t in body["treatments"]}
    assert {"hydra-facial", "skin-peel", "bio-revitalisation-mesotherapy", "meso-botox",
            "aquagold"} <= treatments
    assert body["advice"]


def test_out_of_stock_products_give_way(client, db_session):
    first = routine(client, skin_type="oily", concern="enlarged-pores")["weekly"][0]["product"]
    for variant in db_session.query(Variant).join(Variant.product).filter_by(slug=first["slug"]):
        if variant.stock_level.on_hand:
            inventory.record_movement(session=db_session, variant_id=variant.id,
                                      quantity=-variant.stock_level.on_hand, reason="damaged")
    second = routine(client, skin_type="oily", concern="enlarged-pores")["weekly"][0]["product"]
    assert second["slug"] != first["slug"]


def test_skin_type_is_required_and_concern_must_exist(client):
    assert client.get("/api/v1/routine").status_code == 422
    response = client.get("/api/v1/routine?skin_type=oily&concern=warts")
    assert response.status_code == 422 and "concern" in response.json["errors"]
