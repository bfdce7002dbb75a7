"""Stock admin over HTTP: levels and filters, adjustments, stocktakes, the ledger, CSV."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from shop.audit.models import AuditEntry
from shop.catalogue.models import Variant
from shop.inventory import services as inventory
from shop.inventory.models import StockLevel, StockMovement

ADJUST = "/api/v1/admin/stock/adjustments"
SKU = "GLW-BRUSH-SONIC"


def level_of(db_session, sku: str) -> StockLevel:
    level = db_session.scalar(select(StockLevel).join(StockLevel.variant).where(Variant.sku == sku))
    db_session.refresh(level)
    return level


def ledger_sum(db_session, variant_id: int) -> int:
    return db_session.scalar(
        select(func.coalesce(func.sum(StockMovement.quantity), 0))
        .where(StockMovement.variant_id == variant_id)
    )


def adjust(client, staff, **body):
    return client.post(ADJUST, json=body, headers=staff.headers)


def test_stock_list_shows_levels(client, staff):
    body = client.get(f"/api/v1/admin/stock?sku={SKU}", headers=staff.headers).json
    items = {item["sku"]: item for item in body["items"]}
    assert set(items) == {"GLW-BRUSH-SONIC", "GLW-BRUSH-SONIC-HEAD"}  # a prefix filter
    brush = items[SKU]
    assert brush["product"] == "GLOW Sonic Cleansing Brush"
    assert (brush["on_hand"], brush["reserved"], brush["available"]) == (25, 0, 25)
    assert brush["low_stock_threshold"] == 5


def test_low_and_out_filters(client, staff, db_session):
    level = level_of(db_session, SKU)
    inventory.record_movement(session=db_session, variant_id=level.variant_id, quantity=-22,
                              reason="damaged")
    low = client.get("/api/v1/admin/stock?low=true&per_page=100", headers=staff.headers).json
    assert SKU in {item["sku"] for item in low["items"]}
    assert all(item["available"] < item["low_stock_threshold"] for item in low["items"])
    not_low = client.get("/api/v1/admin/stock?low=false&per_page=100", headers=staff.headers).json
    assert SKU not in {item["sku"] for item in not_low["items"]}
    out = client.get("/api/v1/admin/stock?out=true&per_page=100", headers=staff.headers).json
    assert SKU not in {item["sku"] for item in out["items"]}
    assert all(item["available"] == 0 for item in out["items"])
    in_stock = client.get("/api/v1/admin/stock?out=false&per_page=100",
                          headers=staff.headers).json
    assert all(item["available"] > 0 for item in in_stock["items"])
    assert out["total"] + in_stock["total"] == client.get(
        "/api/v1/admin/stock", headers=staff.headers).json["total"]


def test_archived_filter_and_flag(client, staff, db_session):
    """An archived variant, or every variant of an archived product, still shows its stock
    (it is counted out in a stocktake) but can be left out of the list or listed alone."""
    brush = db_session.scalar(select(Variant).where(Variant.sku == SKU)).product
    brush.status = "archived"
    soft_head = db_session.scalar(select(Variant).where(Variant.sku == "GLW-BRUSH-SOFT-HEAD"))
    soft_head.is_active = False
    db_session.flush()
    archived_skus = {variant.sku for variant in brush.variants} | {"GLW-BRUSH-SOFT-HEAD"}

    def listed(query: str) -> dict[str, bool]:
        body = client.get(f"/api/v1/admin/stock?sku=GLW-BRUSH&per_page=100{query}",
                          headers=staff.headers).json
        return {item["sku"]: item["archived"] for item in body["items"]}

    everything = listed("")
    assert {sku for sku, archived in everything.items() if archived} == archived_skus
    assert set(listed("&archived=true")) == archived_skus
    live = listed("&archived=false")
    assert "GLW-BRUSH-SOFT" in live and not set(live) & archived_skus
    assert set(live) | archived_skus == set(everything)


def test_stock_list_as_csv(client, staff):
    for request in ({"headers": {**staff.headers, "Accept": "text/csv"}, "query": ""},
                    {"headers": staff.headers, "query": "&format=csv"}):
        response = client.get(f"/api/v1/admin/stock?sku=GLW-BRUSH{request['query']}",
                              headers=request["headers"])
        assert response.status_code == 200 and response.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert {row["sku"] for row in rows} >= {SKU, "GLW-BRUSH-SOFT"}
        assert {"sku", "product", "on_hand", "reserved", "available",
                "low_stock_threshold"} <= set(rows[0])


def test_received_adjustment_records_the_ledger_row_and_staff(client, staff, db_session):
    response = adjust(client, staff, sku=SKU, reason="received", quantity=12, note="PO 1042")
    assert response.status_code == 201, response.json
    movement = response.json["movement"]
    assert (movement["quantity"], movement["reason"], movement["note"]) == (12, "received",
                                                                          "PO 1042")
    assert movement["balance_after"] == 37 and movement["sku"] == SKU
    assert movement["staff"]["id"] == staff.user.id
    assert response.json["staff"]["email"] == staff.user.email
    assert response.json["stock"]["on_hand"] == 37
    level = level_of(db_session, SKU)
    assert level.on_hand == 37 == ledger_sum(db_session, level.variant_id)
    entry = db_session.scalars(select(AuditEntry)).one()
    assert entry.action == "stock.received" and entry.actor_id == staff.user.id
    assert (entry.before["on_hand"], entry.after["on_hand"]) == (25, 37)


@pytest.mark.parametrize("body, field", [
    ({"reason": "damaged", "quantity": 2}, "quantity"),
    ({"reason": "received", "quantity": -2}, "quantity"),
    ({"reason": "returned", "quantity": -1}, "quantity"),
    ({"reason": "correction", "quantity": 0}, "quantity"),
    ({"reason": "correction"}, "quantity"),
    ({"reason": "received", "quantity": 1, "counted": 4}, "counted"),
    ({"reason": "stocktake"}, "counted"),
    ({"reason": "stocktake", "counted": 4, "quantity": 1}, "quantity"),
    ({"reason": "stocktake", "counted": -1}, "counted"),
    ({"reason": "sale", "quantity": -1}, "reason"),
    ({"reason": "received", "quantity": "3"}, "quantity"),
])
def test_malformed_adjustments_are_422(client, staff, body, field):
    response = adjust(client, staff, sku=SKU, **body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]


def test_stock_never_goes_below_zero(client, staff, db_session):
    response = adjust(client, staff, sku=SKU, reason="damaged", quantity=-26)
    assert response.status_code == 409 and response.json["code"] == "insufficient_stock"
    assert level_of(db_session, SKU).on_hand == 25
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_stock_never_goes_below_what_is_reserved(client, staff, db_session):
    level = level_of(db_session, SKU)
    inventory.reserve(session=db_session, variant_id=level.variant_id, quantity=20)
    refused = adjust(client, staff, sku=SKU, reason="correction", quantity=-6)
    assert refused.status_code == 409
    allowed = adjust(client, staff, sku=SKU, reason="correction", quantity=-5)
    assert allowed.status_code == 201 and allowed.json["stock"]["available"] == 0
    below_reserved = adjust(client, staff, sku=SKU, reason="stocktake", counted=19)
    assert below_reserved.status_code == 409


def test_stocktake_sets_the_counted_level(client, staff, db_session):
    response = adjust(client, staff, sku=SKU, reason="stocktake", counted=21, note="Q4 count")
    assert response.status_code == 201, response.json
    assert response.json["movement"]["quantity"] == -4
    assert response.json["movement"]["reason"] == "stocktake"
    assert response.json["stock"]["on_hand"] == 21
    up = adjust(client, staff, sku=SKU, reason="stocktake", counted=30)
    assert up.json["movement"]["quantity"] == 9
    level = level_of(db_session, SKU)
    assert level.on_hand == 30 == ledger_sum(db_session, level.variant_id)


def test_a_stocktake_that_matches_records_no_movement(client, staff, db_session):
    response = adjust(client, staff, sku=SKU, reason="stocktake", counted=25)
    assert response.status_code == 200
    assert response.json["movement"] is None and response.json["stock"]["on_hand"] == 25
    entry = db_session.scalars(select(AuditEntry)).one()
    assert entry.action == "stock.stocktake" and entry.after["counted"] == 25


def test_unknown_sku_is_404(client, staff):
    response = adjust(client, staff, sku="NOPE-1", reason="received", quantity=1)
    assert response.status_code == 404 and response.json["code"] == "sku_not_found"


def test_adjustment_retried_with_the_same_key_is_recorded_once(client, staff, db_session):
    headers = {**staff.headers, "Idempotency-Key": "delivery-2026-11-25-brush"}
    body = {"sku": SKU, "reason": "received", "quantity": 3}
    first = client.post(ADJUST, json=body, headers=headers)
    second = client.post(ADJUST, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json["movement"]["id"] == second.json["movement"]["id"]
    assert level_of(db_session, SKU).on_hand == 28


def test_movements_list_filters_and_csv(client, staff, db_session):
    adjust(client, staff, sku=SKU, reason="received", quantity=5)
    adjust(client, staff, sku=SKU, reason="damaged", quantity=-1)
    url = f"/api/v1/admin/stock/movements?sku={SKU.lower()}"
    everything = client.get(url, headers=staff.headers).json
    assert [m["reason"] for m in everything["items"]] == ["damaged", "received", "received"]
    assert everything["items"][-1]["staff"] is None  # the opening stock came from the seed
    damaged = client.get(f"{url}&reason=damaged", headers=staff.headers).json
    assert [m["quantity"] for m in damaged["items"]] == [-1]
    future = client.get(f"{url}&from=2999-01-01", headers=staff.headers).json
    assert future["total"] == 0
    today = client.get(f"{url}&to=2999-01-01&from=2000-01-01", headers=staff.headers).json
    assert today["total"] == 3
    as_csv = client.get(f"{url}&format=csv", headers=staff.headers)
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [row["quantity"] for row in rows] == ["-1", "5", "25"]
    assert rows[0]["staff.email"] == staff.user.email


def test_movement_date_range_must_be_ordered(client, staff):
    response = client.get("/api/v1/admin/stock/movements?from=2026-02-01&to=2026-01-01",
                          headers=staff.headers)
    assert response.status_code == 422 and "from" in response.json["errors"]
    bad = client.get("/api/v1/admin/stock/movements?from=yesterday", headers=staff.headers)
    assert bad.status_code == 422


def test_unknown_query_parameters_are_refused(client, staff):
    response = client.get("/api/v1/admin/stock?colour=red", headers=staff.headers)
    assert response.status_code == 422
