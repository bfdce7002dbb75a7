"""Cart operations. Every change locks the cart row first, so concurrent edits of one cart
queue instead of creating duplicate lines; prices are never stored, only computed on read."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, exists, inspect, or_, select, update
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from shop.accounts.models import User
from shop.carts import pricing
from shop.carts.models import Cart, CartItem
from shop.catalogue.models import AVAILABLE_DISPLAY_CAP, Product, Variant
from shop.checkout import shipping
from shop.db import insert_now, update_now, utcnow
from shop.errors import Conflict, NotFound, ValidationFailed
from shop.money import Money
from shop.promotions import rules as promotion_rules
from shop.vouchers import cart as voucher_cart
from shop.vouchers.models import CartVoucher


@dataclass(frozen=True)
class CartView:
    """A cart with its prices as of now: what the API shows."""

    cart: Cart
    pricing: pricing.PricedCart

    def __getattr__(self, name: str):
        if name in ("id", "status", "created_at", "updated_at"):
            return getattr(self.cart, name)
        if name in ("currency", "requires_shipping", "discounts", "vat_breakdown", "purchasable",
                    "promotion"):
            return getattr(self.pricing, name)
        raise AttributeError(name)

    @property
    def items(self) -> tuple[pricing.PricedLine, ...]:
        return self.pricing.lines

    @property
    def totals(self) -> pricing.PricedCart:
        return self.pricing

    @property
    def shipping(self) -> dict | None:
        method = self.pricing.shipping_method
        if method is None:
            return None
        return {"code": method.code, "name": method.name, "price": self.pricing.shipping,
                "vat": self.pricing.shipping_vat}

    @property
    def vouchers(self) -> dict:
        return voucher_cart.cart_summary(self.cart, self.pricing)


def new_cart_id() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits: a guest's only key to the cart


# Built once: every cart read and change starts here, and an ORM statement with loader
# options is costly to build and to key for SQLAlchemy's compile cache on every call.
# The cart row first, then its items with what pricing reads of them (line_input): a second
# statement, after the lock when there is one, as a join in the locking query would read the
# items from before a concurrent change this one waited for. Not selectinload: it builds and
# keys its statement again on every load (1.3 M of a checkout's 19 M instructions).
CART = select(Cart).where(Cart.id == bindparam("cart_id")).options(lazyload(Cart.items))
LOCKED_CART = CART.with_for_update(of=Cart).execution_options(populate_existing=True)
CART_ITEMS = (
    select(CartItem, exists().where(CartVoucher.cart_id == Cart.id).label("vouchers_applied"))
    .select_from(Cart).outerjoin(Cart.items)  # (an empty cart: one row, no item)
    .where(Cart.id == bindparam("cart_id")).order_by(CartItem.id)
    .options(joinedload(CartItem.variant).options(
        # a product's texts, JSON lists and the category joined by default: not read here
        joinedload(Variant.product)
        .load_only(Product.name, Product.slug, Product.image_urls, Product.status)
        .lazyload(Product.category),
        joinedload(Variant.stock_level),
    ))
    .execution_options(populate_existing=True)
)


def _with_items(session: Session, cart: Cart | None, *, reload: bool) -> Cart | None:
    if cart is not None and (reload or "items" in inspect(cart).unloaded):
        rows = session.execute(CART_ITEMS, {"cart_id": cart.id}).all()
        items = [row.CartItem for row in rows if row.CartItem is not None]
        set_committed_value(cart, "items", items)
        cart.vouchers_applied = rows[0].vouchers_applied if rows else None
    return cart


def _find_cart(session: Session, cart_id: str, user: User | None, *, lock: bool) -> Cart:
    cart = session.scalar(LOCKED_CART if lock else CART, {"cart_id": cart_id})
    _check_owner(cart, user)
    return _with_items(session, cart, reload=lock)


def _check_owner(cart: Cart | None, user: User | None) -> None:
    """A guest cart is open to whoever holds its id; a customer's cart only to that customer."""
    if cart is None or (cart.user_id is not None and (user is None or user.id != cart.user_id)):
        raise NotFound("No such cart.", code="cart_not_found")


def require_open(cart: Cart) -> None:
    if cart.status != "open":
        raise Conflict(
            f"This cart is {cart.status.replace('_', ' ')} and can no longer change.",
            code="cart_not_open", cart_status=cart.status,
        )


def lock_open_cart(*, session: Session, cart_id: str, user: User | None) -> Cart:
    cart = _find_cart(session, cart_id, user, lock=True)
    require_open(cart)
    return cart


_CARTS = Cart.__table__
# Checkout's first statement locks an open cart by marking it checked out (the mark is rolled
# back with the rest if the checkout fails): one statement where a locking SELECT and an
# UPDATE took two.
CHECK_OUT = select(Cart).from_statement(
    update(_CARTS).where(_CARTS.c.id == bindparam("cart_id"), _CARTS.c.status == "open")
    .values(status="checked_out", updated_at=bindparam("now")).returning(*_CARTS.c)
).execution_options(populate_existing=True)


def check_out(*, session: Session, cart_id: str, user: User | None) -> Cart:
    """The open cart, locked, its status already `checked_out`, with its items read after the
    lock; the errors of lock_open_cart otherwise."""
    cart = session.scalar(CHECK_OUT, {"cart_id": cart_id, "now": utcnow()})
    if cart is None:  # missing, not open, or reopened since (a checkout whose payment failed)
        cart = lock_open_cart(session=session, cart_id=cart_id, user=user)
        update_now(session, cart, status="checked_out", updated_at=utcnow())
        return cart
    _check_owner(cart, user)
    return _with_items(session, cart, reload=True)


def get_cart(*, session: Session, cart_id: str, user: User | None) -> Cart:
    return _find_cart(session, cart_id, user, lock=False)


def open_cart_of(session: Session, user: User, *, lock: bool = False) -> Cart | None:
    stmt = (
        select(Cart).where(Cart.user_id == user.id, Cart.status == "open")
        .order_by(Cart.created_at.desc(), Cart.id).limit(1).options(lazyload(Cart.items))
    )
    if lock:
        stmt = stmt.with_for_update(of=Cart).execution_options(populate_existing=True)
    return _with_items(session, session.scalar(stmt), reload=lock)


def create_cart(*, session: Session, user: User | None) -> tuple[Cart, bool]:
    """A new cart; a signed-in customer gets their open cart back instead of a second one."""
    if user is not None and (existing := open_cart_of(session, user)) is not None:
        return existing, False
    cart = Cart(id=new_cart_id(), user_id=user.id if user else None, status="open", items=[])
    cart.vouchers_applied = False
    session.add(cart)
    session.flush()
    return cart, True


VARIANT_BY_SKU = (
    select(Variant).where(Variant.sku == bindparam("sku"))
    .options(joinedload(Variant.product), joinedload(Variant.stock_level))
)


def _variant_for_sku(session: Session, sku: str) -> Variant:
    variant = session.scalar(VARIANT_BY_SKU, {"sku": sku})
    if variant is None or variant.product.status == "draft":
        raise ValidationFailed(
            f"No product with SKU '{sku}'.", code="sku_not_found",
            errors={"sku": ["Unknown SKU."]},
        )
    if variant.product.status != "active" or not variant.is_active:
        raise Conflict(f"'{variant.product.name}' is no longer sold.", code="product_unavailable")
    return variant


def _check_quantity(variant: Variant, quantity: int) -> None:
    cap = current_app.config["CART_LINE_MAX_QUANTITY"]
    if quantity > cap:
        raise ValidationFailed(
            f"At most {cap} of one item per order.", code="quantity_limit_exceeded",
            errors={"quantity": [f"Must be at most {cap} in total for this item."]},
        )
    if quantity > variant.available_units:
        raise Conflict(
            f"Only {min(variant.available_units, AVAILABLE_DISPLAY_CAP)} of "
            f"'{variant.product.name}' available.",
            code="insufficient_stock", sku=variant.sku,
            available=min(variant.available_units, AVAILABLE_DISPLAY_CAP),
        )


def _touch(cart: Cart) -> None:
    cart.updated_at = utcnow()


def add_item(*, session: Session, cart_id: str, user: User | None, sku: str, quantity: int,
             voucher: dict | None = None, amount: Money | None = None) -> Cart:
    """Add a SKU; a second add of the same SKU raises that line's quantity instead."""
    cart = lock_open_cart(session=session, cart_id=cart_id, user=user)
    variant = _variant_for_sku(session, sku)
    if variant.voucher_kind is not None or voucher is not None or amount is not None:
        if len(cart.items) >= current_app.config["CART_MAX_LINES"]:
            raise Conflict("This cart has too many different items.", code="cart_full")
        voucher_cart.add_to_cart(session=session, cart=cart, variant=variant, quantity=quantity,
                                 voucher=voucher, amount=amount)
        _touch(cart)
        return cart
    line = next((item for item in cart.items if item.variant_id == variant.id), None)
    _check_quantity(variant, quantity + (line.quantity if line else 0))
    # Written at once, without the unit of work (shop.db.insert_now): the busiest cart change
    if line is not None:
        update_now(session, line, quantity=line.quantity + quantity)
    else:
        if len(cart.items) >= current_app.config["CART_MAX_LINES"]:
            raise Conflict("This cart has too many different items.", code="cart_full")
        line = CartItem(cart_id=cart.id, variant_id=variant.id, quantity=quantity)
        insert_now(session, line)
        set_committed_value(line, "variant", variant)
        set_committed_value(cart, "items", [*cart.items, line])
    update_now(session, cart, updated_at=utcnow())
    return cart


def _line(cart: Cart, item_id: int) -> CartItem:
    line = next((item for item in cart.items if item.id == item_id), None)
    if line is None:
        raise NotFound("No such item in this cart.", code="cart_item_not_found")
    return line


def update_item(
    *, session: Session, cart_id: str, user: User | None, item_id: int, quantity: int
) -> Cart:
    cart = lock_open_cart(session=session, cart_id=cart_id, user=user)
    line = _line(cart, item_id)
    voucher_cart.refuse_quantity_change(line, quantity)
    if quantity > line.quantity:  # lowering a quantity is always allowed, even when short
        _check_quantity(line.variant, quantity)
    line.quantity = quantity
    _touch(cart)
    session.flush()
    return cart


def remove_item(*, session: Session, cart_id: str, user: User | None, item_id: int) -> Cart:
    cart = lock_open_cart(session=session, cart_id=cart_id, user=user)
    cart.items.remove(_line(cart, item_id))
    _touch(cart)
    session.flush()
    return cart


def claim_cart(*, session: Session, cart_id: str, user: User) -> Cart:
    """Merge a guest cart into the customer's open cart (or adopt it if they have none)."""
    guest = _find_cart(session, cart_id, user, lock=True)
    if guest.user_id == user.id and guest.status == "merged":  # a retried claim
        return open_cart_of(session, user) or guest
    require_open(guest)
    if guest.user_id == user.id:
        return guest
    target = open_cart_of(session, user, lock=True)
    if target is None:
        guest.user_id = user.id
        _touch(guest)
        session.flush()
        return guest
    cap = current_app.config["CART_LINE_MAX_QUANTITY"]
    lines = {item.variant_id: item for item in target.items}
    for item in list(guest.items):
        if item.variant.voucher_kind is not None:  # a voucher line moves whole, recipient and all
            item.cart = target
        elif item.variant_id in lines:
            existing = lines[item.variant_id]
            existing.quantity = min(existing.quantity + item.quantity, max(cap, existing.quantity))
        else:
            target.items.append(CartItem(variant=item.variant, quantity=min(item.quantity, cap)))
    guest.items.clear()
    voucher_cart.move_applied(session=session, source=guest, target=target)
    target.promotion_id = target.promotion_id or guest.promotion_id
    guest.status, guest.user_id = "merged", user.id
    _touch(guest)
    _touch(target)
    session.flush()
    return target


def line_input(item: CartItem) -> pricing.LineInput:
    variant = item.variant
    product: Product = variant.product
    line = pricing.LineInput(
        item_id=item.id, variant_id=variant.id, sku=variant.sku, product_name=product.name,
        variant_name=variant.name, product_slug=product.slug,
        image_url=product.image_urls[0] if product.image_urls else None,
        unit_price=variant.price, quantity=item.quantity, available=variant.available_units,
        sellable=product.status == "active" and variant.is_active,
    )
    if variant.voucher_kind is None:
        return line
    return replace(line, **voucher_cart.line_fields(item, current_app.config["VAT_RATE_PERCENT"]))


def price(cart: Cart, shipping_code: str | None = None) -> pricing.PricedCart:
    """Price a cart from the catalogue as it is now, with its promotion code if it has one."""
    config = current_app.config
    method = shipping.get_method(shipping_code or shipping.DEFAULT_METHOD)
    lines = [line_input(item) for item in cart.items]
    promotion = None
    if cart.promotion_id is not None:
        promotion = promotion_rules.evaluate(cart.promotion, lines, config["SHOP_CURRENCY"],
                                             utcnow())
    priced = pricing.price_cart(
        lines, currency=config["SHOP_CURRENCY"],
        vat_rate=config["VAT_RATE_PERCENT"], shipping_method=method,
        free_shipping_threshold=config["FREE_SHIPPING_THRESHOLD"],
        discounts=(promotion.discount,) if promotion and promotion.applies else (),
    )
    return replace(priced, promotion=promotion) if promotion else priced


def view(cart: Cart, shipping_code: str | None = None) -> CartView:
    return CartView(cart, price(cart, shipping_code))


def purge_abandoned(*, session: Session, now: datetime, limit: int = 500) -> int:
    """Delete guest carts (and finished carts of anyone) untouched for the retention period."""
    cutoff = now - timedelta(days=current_app.config["CART_RETENTION_DAYS"])
    ids = list(session.scalars(
        select(Cart.id)
        .where(Cart.updated_at < cutoff, or_(Cart.user_id.is_(None), Cart.status != "open"))
        .order_by(Cart.updated_at).limit(limit).with_for_update(skip_locked=True)
    ))
    if ids:
        session.execute(delete(Cart).where(Cart.id.in_(ids)))
    return len(ids)


def export_carts(*, session: Session, user: User) -> list[dict]:
    """The account's carts in its data export: what is in them and when it was reminded."""
    carts = session.scalars(select(Cart).where(Cart.user_id == user.id)
                            .options(selectinload(Cart.items).selectinload(CartItem.variant))
                            .order_by(Cart.created_at, Cart.id))
    return [{"status": cart.status, "created_at": cart.created_at.isoformat(),
             "updated_at": cart.updated_at.isoformat(),
             "reminded_at": cart.reminded_at.isoformat() if cart.reminded_at else None,
             "items": [{"sku": item.variant.sku, "quantity": item.quantity}
                       for item in cart.items]} for cart in carts]


def forget_account(*, session: Session, user: User) -> None:
    """The account's carts go with it (placed orders keep their own lines)."""
    session.execute(delete(Cart).where(Cart.user_id == user.id)
                    .execution_options(synchronize_session=False))
