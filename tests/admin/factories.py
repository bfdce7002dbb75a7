"""Rows the staff tests own: a product with its own SKU and stock, orders placed through the
real cart and checkout services."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from shop.catalogue.models import Category, Product, Variant
from shop.inventory import services as inventory
from shop.inventory.models import StockMovement

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Harley Street", "line2": "", "city": "London",
           "county": "", "postcode": "W1G 9QD", "country": "GB", "phone": ""}


def make_variant(session, *, price: int = 2000, stock: int = 10, threshold: int = 5) -> Variant:
    tag = secrets.token_hex(4)
    category = session.scalars(select(Category).order_by(Category.id)).first()
    product = Product(slug=f"staff-test-{tag}", name=f"Staff Test Serum {tag}",
                      category=category, status="active", image_urls=[], key_ingredients=[])
    variant = Variant(sku=f"STF-{tag}".upper(), name="30 ml", price_amount=price,
                      currency="GBP")
    product.variants = [variant]
    inventory.create_level(session=session, variant=variant, low_stock_threshold=threshold)
    session.add(product)
    session.flush()
    if stock:
        inventory.record_movement(session=session, variant_id=variant.id, quantity=stock,
                                  reason="received", note="test stock")
    return variant


def ledger_sum(session, variant_id: int) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(StockMovement.quantity), 0))
        .where(StockMovement.variant_id == variant_id)
    )


def place_order(session, items, *, user=None, email="guest@example.com",
                shipping_method="uk-standard"):
    """A pending order for [(variant, quantity), ...] through the cart and checkout services."""
    from shop.carts import services as carts
    from shop.checkout import services as checkout

    cart, _ = carts.create_cart(session=session, user=user)
    for variant, quantity in items:
        carts.add_item(session=session, cart_id=cart.id, user=user, sku=variant.sku,
                       quantity=quantity)
    return checkout.place_order(
        session=session, cart_id=cart.id, user=user, email=email,
        shipping_method=shipping_method,
        shipping_address=ADDRESS if shipping_method != "click-and-collect" else None,
    ).order


def paid_card_order(client, db_session, localstripe, *, price=1100, quantity=2,
                    card: str | None = None) -> dict:
    """Checkout over HTTP (click and collect: no shipping), paid on localstripe, synced."""
    variant = make_variant(db_session, price=price, stock=10)
    cart_id = client.post("/api/v1/carts").json["id"]
    client.post(f"/api/v1/carts/{cart_id}/items", json={"sku": variant.sku, "quantity": quantity})
    body = client.post(f"/api/v1/carts/{cart_id}/checkout", json={
        "email": "buyer@example.com", "shipping_method": "click-and-collect"}).json
    localstripe.pay(body["payment"]["client_secret"], **({"card": card} if card else {}))
    synced = client.post(f"/api/v1/orders/{body['order']['id']}/sync"
                         f"?access_token={body['access_token']}")
    assert synced.json["order"]["status"] == "paid", synced.json
    return {"id": body["order"]["id"], "variant": variant,
            "line_id": body["order"]["lines"][0]["id"],
            "intent": body["payment"]["payment_intent_id"]}


def refund(client, admin, order_id: int, headers: dict | None = None, **body):
    body.setdefault("reason", "customer changed their mind")
    return client.post(f"/api/v1/admin/orders/{order_id}/refunds", json=body,
                       headers={**admin.headers, **(headers or {})})
