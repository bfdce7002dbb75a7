"""Products with their own SKUs and stock, so each test owns the rows it changes."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from shop.catalogue.models import Category, Product, Variant
from shop.inventory import services as inventory
from shop.inventory.models import StockLevel, StockMovement


def make_variant(
    session, *, price: int = 1200, stock: int = 5, status: str = "active", name: str | None = None
) -> Variant:
    """A product with one variant, `stock` units received through the ledger."""
    tag = secrets.token_hex(4)
    category = session.scalars(select(Category).order_by(Category.id)).first()
    product = Product(
        slug=f"test-product-{tag}", name=name or f"Test Serum {tag}", category=category,
        status=status, image_urls=[f"https://img.example/{tag}.jpg"],
    )
    variant = Variant(sku=f"TST-{tag}".upper(), name="30 ml", price_amount=price, currency="GBP")
    product.variants = [variant]
    inventory.create_level(session=session, variant=variant)
    session.add(product)
    session.flush()
    if stock:
        inventory.record_movement(
            session=session, variant_id=variant.id, quantity=stock, reason="received"
        )
    return variant


def ledger_sum(session, variant_id: int) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(StockMovement.quantity), 0))
        .where(StockMovement.variant_id == variant_id)
    )


def level(session, variant_id: int) -> StockLevel:
    row = session.get(StockLevel, variant_id)
    session.refresh(row)
    return row


ADDRESS = {"name": "Ada Lovelace", "line1": "1 Harley Street", "line2": "", "city": "London",
           "county": "", "postcode": "W1G 9QD", "country": "GB", "phone": ""}


def make_cart(session, items, *, user=None):
    """A cart holding [(variant, quantity), ...], built through the cart services."""
    from shop.carts import services as carts

    cart, _ = carts.create_cart(session=session, user=user)
    for variant, quantity in items:
        carts.add_item(session=session, cart_id=cart.id, user=user, sku=variant.sku,
                       quantity=quantity)
    return cart


def place_order(session, items, *, user=None, shipping_method="uk-standard", email=None, now=None):
    """A pending order for [(variant, quantity), ...], placed through checkout."""
    from shop.checkout import services as checkout

    cart = make_cart(session, items, user=user)
    return checkout.place_order(
        session=session, cart_id=cart.id, user=user,
        email=email or (None if user else "guest@example.com"),
        shipping_method=shipping_method,
        shipping_address=ADDRESS if shipping_method != "click-and-collect" else None, now=now,
    )
