"""Orders paid on localstripe and dispatched, for returns to start from."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shop.orders.models import OrderEvent
from tests.admin.factories import make_variant
from tests.fixtures.stripe import CARD_OK

RETURNS = "/api/v1/orders/{order_id}/returns"
ADMIN = "/api/v1/admin/returns"


def dispatched_order(client, db_session, localstripe, staff, *, quantity: int = 2,
                     price: int = 1100, headers: dict | None = None,
                     completed: bool = True, voucher: bool = False, sent: bool = False,
                     card: str = CARD_OK) -> dict:
    """An order paid on localstripe, then marked ready for collection (or `sent` by post),
    and collected or delivered (`completed`)."""
    variant = make_variant(db_session, price=price, stock=10)
    headers = headers or {}
    cart_id = client.post("/api/v1/carts", headers=headers).json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", headers=headers,
                json={"sku": variant.sku, "quantity": quantity})
    if voucher:
        client.post(f"/api/v1/carts/{cart_id}/items", headers=headers, json={
            "sku": "GLW-GV-25", "quantity": 1,
            "voucher": {"recipient_name": "Lara", "recipient_email": "lara@example.com"}})
    body = client.post(f"/api/v1/carts/{cart_id}/checkout", headers=headers, json={
        "email": "buyer@example.com", "shipping_method": "click-and-collect"}).json
    localstripe.pay(body["payment"]["client_secret"], card=card)
    token = body.get("access_token")
    query = f"?access_token={token}" if token else ""
    synced = client.post(f"/api/v1/orders/{body['order']['id']}/sync{query}",
                         headers=headers)
    assert synced.json["order"]["status"] == "paid", synced.json
    order_id = body["order"]["id"]
    how = ({"carrier": "Royal Mail", "tracking_number": "RM123456789GB"} if sent
           else {"collected": True})
    fulfilled = client.post(f"/api/v1/admin/orders/{order_id}/fulfil", json=how,
                            headers=staff.headers)
    assert fulfilled.status_code == 200, fulfilled.json
    if completed:
        assert client.post(f"/api/v1/admin/orders/{order_id}/complete",
                           headers=staff.headers).status_code == 200
    lines = body["order"]["lines"]
    return {"id": order_id, "variant": variant, "line_id": lines[0]["id"],
            "voucher_line_id": lines[1]["id"] if voucher else None,
            "intent": body["payment"]["payment_intent_id"],
            "headers": headers or {"X-Order-Token": token}}


def age_event(db_session, order_id: int, event_type: str, days: int) -> None:
    """Pretend the order was dispatched or collected `days` ago."""
    for event in db_session.scalars(select(OrderEvent).where(
            OrderEvent.order_id == order_id, OrderEvent.type == event_type)):
        event.created_at -= timedelta(days=days)
    db_session.commit()


def ask(client, order: dict, lines: list[tuple[int, int]] | None = None, **body):
    body.setdefault("reason", "changed_mind")
    body.setdefault("lines", [{"line_id": line_id, "quantity": quantity}
                              for line_id, quantity in (lines or [(order["line_id"], 1)])])
    return client.post(RETURNS.format(order_id=order["id"]), json=body,
                       headers=order["headers"])
