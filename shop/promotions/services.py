"""Applying a promotion code to a cart, taking one of its redemptions at checkout, and giving
it back when the order is never paid; staff create and change codes."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.audit import record as audit_record
from shop.carts import services as carts
from shop.carts.models import Cart
from shop.db import utcnow
from shop.errors import Conflict, NotFound, ValidationFailed
from shop.money import Money
from shop.promotions import rules
from shop.promotions.models import Promotion, PromotionRedemption

log = logging.getLogger(__name__)

REASONS = {
    "disabled": "This code is not valid.",
    "not_started": "This code cannot be used yet.",
    "expired": "This code has expired.",
    "used_up": "This code has been used as many times as it can be.",
}


def normalise_code(code: str) -> str:
    return code.strip().upper()


def find(*, session: Session, code: str) -> Promotion | None:
    return session.scalar(select(Promotion).where(Promotion.code == normalise_code(code)))


# --- the customer's cart ------------------------------------------------------------------

def apply_code(*, session: Session, cart_id: str, user: User | None, code: str) -> Cart:
    """Put a code on the cart (replacing any other). Unknown and disabled codes get the same
    answer; a code the cart does not qualify for yet (a minimum spend) is applied, and the
    cart says why it takes nothing off."""
    cart = carts.lock_open_cart(session=session, cart_id=cart_id, user=user)
    promotion = find(session=session, code=code)
    reason = "disabled" if promotion is None else rules.unusable_reason(promotion, utcnow())
    if reason is not None:
        raise ValidationFailed(REASONS[reason], code="promotion_invalid",
                               errors={"code": [REASONS[reason]]}, reason=reason)
    cart.promotion_id, cart.promotion, cart.updated_at = promotion.id, promotion, utcnow()
    session.flush()
    return cart


def remove_code(*, session: Session, cart_id: str, user: User | None) -> Cart:
    cart = carts.lock_open_cart(session=session, cart_id=cart_id, user=user)
    if cart.promotion_id is not None:
        cart.promotion_id, cart.promotion, cart.updated_at = None, None, utcnow()
        session.flush()
    return cart


# --- checkout, payment, cancellation (hooks) ----------------------------------------------

def on_order_placed(*, session: Session, order, cart: Cart) -> None:
    """Take one redemption for the order, or refuse the checkout: a code that no longer
    applies must not vanish from the price silently, `max_redemptions` must hold, and a
    once-per-customer code goes once to each email address and to each signed-in account (a
    released use comes back)."""
    if cart.promotion_id is None:
        return
    if not order.discount_amount:
        raise Conflict("The promotion code on this cart takes nothing off now (the cart's "
                       "promotion.reason says why): remove it or change the cart.",
                       code="promotion_not_applicable")
    now = utcnow()
    taken = session.execute(
        update(Promotion)
        .where(Promotion.id == cart.promotion_id, Promotion.status == "active",
               or_(Promotion.max_redemptions.is_(None),
                   Promotion.redemptions < Promotion.max_redemptions),
               or_(Promotion.starts_at.is_(None), Promotion.starts_at <= now),
               or_(Promotion.ends_at.is_(None), Promotion.ends_at > now))
        .values(redemptions=Promotion.redemptions + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        raise Conflict("The promotion code has just been used up or ended; remove it and "
                       "check out again.", code="promotion_unavailable")
    once = cart.promotion.once_per_customer
    try:
        with session.begin_nested():
            session.add(PromotionRedemption(
                promotion_id=cart.promotion_id, order_id=order.id, amount=order.discount_amount,
                once_key=order.email.strip().lower() if once else None,
                once_user_id=order.user_id if once else None))
            session.flush()
    except IntegrityError:
        who = f"this account or {order.email}" if order.user_id else order.email
        raise Conflict(f"{cart.promotion.code} can be used once per customer, and "
                       f"{who} has used it already.", code="promotion_already_used") from None


def on_paid(*, session: Session, order) -> None:
    """The order's use is spent. An order paid after it was cancelled (honoured when its stock
    was still there) takes back the use it gave up, if the code has one left: the count never
    passes max_redemptions, and the redemption row records the use either way."""
    if not order.discount_amount:  # no code: nothing to read (every payment comes here)
        return
    _mark_used(session, order.id, "held")
    for promotion_id in _mark_used(session, order.id, "released"):
        session.execute(
            update(Promotion)
            .where(Promotion.id == promotion_id,
                   or_(Promotion.max_redemptions.is_(None),
                       Promotion.redemptions < Promotion.max_redemptions))
            .values(redemptions=Promotion.redemptions + 1)
            .execution_options(synchronize_session=False))
        _key_again(session, order, promotion_id)


def _key_again(session: Session, order, promotion_id: int) -> None:
    """A once-per-customer use given up at cancellation and taken again by a late payment
    holds the customer's keys again, so the code does not go to them a second time. If the
    customer used the code on another order meanwhile, both orders stand (the payment is
    taken) and this one keeps no keys; it is logged."""
    if not session.scalar(select(Promotion.once_per_customer)
                          .where(Promotion.id == promotion_id)):
        return
    try:
        with session.begin_nested():
            session.execute(
                update(PromotionRedemption).where(PromotionRedemption.order_id == order.id)
                .values(once_key=order.email.strip().lower(), once_user_id=order.user_id)
                .execution_options(synchronize_session=False))
    except IntegrityError:
        log.warning("once-per-customer code used twice: a cancelled order paid late",
                    extra={"order_id": order.id, "promotion_id": promotion_id})


def _mark_used(session: Session, order_id: int, status: str) -> list[int]:
    return list(session.scalars(
        update(PromotionRedemption)
        .where(PromotionRedemption.order_id == order_id, PromotionRedemption.status == status)
        .values(status="used", updated_at=utcnow())
        .returning(PromotionRedemption.promotion_id)
        .execution_options(synchronize_session=False)))


def on_cancel(*, session: Session, order) -> None:
    """An order never paid gives its redemption back (once: only a held one is released)."""
    if not order.discount_amount:
        return
    released = session.scalars(
        update(PromotionRedemption)
        .where(PromotionRedemption.order_id == order.id, PromotionRedemption.status == "held")
        .values(status="released", once_key=None, once_user_id=None, updated_at=utcnow())
        .returning(PromotionRedemption.promotion_id)
        .execution_options(synchronize_session=False)).all()
    for promotion_id in released:
        session.execute(update(Promotion).where(Promotion.id == promotion_id)
                        .values(redemptions=Promotion.redemptions - 1)
                        .execution_options(synchronize_session=False))


def register_hooks() -> None:
    """Hook promotions into checkout and orders (once per process)."""
    from shop.checkout import services as placing
    from shop.orders import services as orders

    for hooks, fn in ((placing.on_order_placed, on_order_placed), (orders.on_paid, on_paid),
                      (orders.on_cancel, on_cancel)):
        if fn not in hooks:
            hooks.append(fn)


# --- staff ----------------------------------------------------------------------------------

def list_query(*, status: str | None = None):
    stmt = select(Promotion)
    if status:
        stmt = stmt.where(Promotion.status == status)
    return stmt.order_by(Promotion.created_at.desc(), Promotion.id.desc())


def get(*, session: Session, code: str) -> Promotion:
    promotion = find(session=session, code=code)
    if promotion is None:
        raise NotFound("No such promotion code.", code="promotion_not_found")
    return promotion


def create(*, session: Session, actor: User, data: dict[str, Any]) -> Promotion:
    currency = current_app.config["SHOP_CURRENCY"]
    promotion = Promotion(
        code=normalise_code(data["code"]), description=data["description"].strip(),
        percent_off=data.get("percent_off"), currency=currency,
        amount_off=_minor_units(data.get("amount_off"), currency, "amount_off"),
        min_subtotal_amount=_minor_units(data.get("min_subtotal"), currency, "min_subtotal") or 0,
        starts_at=data.get("starts_at"), ends_at=data.get("ends_at"),
        max_redemptions=data.get("max_redemptions"),
        once_per_customer=data.get("once_per_customer", False),
    )
    _check_window(promotion.starts_at, promotion.ends_at)
    try:
        with session.begin_nested():
            session.add(promotion)
            session.flush()
    except IntegrityError:
        raise Conflict("A promotion with this code exists already.", code="promotion_code_taken",
                       errors={"code": ["Already in use."]}) from None
    audit_record(session=session, actor=actor, action="promotion.create", entity="promotion",
                 entity_id=promotion.code, before=None, after=snapshot(promotion))
    return promotion


def change(*, session: Session, actor: User, code: str, changes: dict[str, Any]) -> Promotion:
    """Staff may change what customers see and the limits; not the value of a code that
    orders may already hold (make a new code for that)."""
    promotion = session.scalar(select(Promotion).where(Promotion.code == normalise_code(code))
                               .with_for_update())
    if promotion is None:
        raise NotFound("No such promotion code.", code="promotion_not_found")
    before = snapshot(promotion)
    for field in ("description", "starts_at", "ends_at", "max_redemptions", "status"):
        if field in changes:
            setattr(promotion, field, changes[field])
    _check_window(promotion.starts_at, promotion.ends_at)
    if promotion.max_redemptions is not None and promotion.max_redemptions < promotion.redemptions:
        raise Conflict(f"{promotion.redemptions} orders hold or used this code already.",
                       code="max_below_redemptions",
                       errors={"max_redemptions": [f"At least {promotion.redemptions}."]})
    session.flush()
    audit_record(session=session, actor=actor, action="promotion.change", entity="promotion",
                 entity_id=promotion.code, before=before, after=snapshot(promotion))
    return promotion


def _minor_units(money: Money | None, currency: str, field: str) -> int | None:
    if money is None:
        return None
    if money.currency != currency:
        raise ValidationFailed(f"Use {currency}.", errors={field: [f"Must be in {currency}."]})
    return money.amount


def _check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValidationFailed("The code must end after it starts.",
                               errors={"ends_at": ["Must be after starts_at."]})


def snapshot(promotion: Promotion) -> dict[str, Any]:
    return {
        "code": promotion.code, "description": promotion.description,
        "percent_off": promotion.percent_off, "amount_off": promotion.amount_off,
        "min_subtotal_amount": promotion.min_subtotal_amount,
        "starts_at": promotion.starts_at.isoformat() if promotion.starts_at else None,
        "ends_at": promotion.ends_at.isoformat() if promotion.ends_at else None,
        "max_redemptions": promotion.max_redemptions, "status": promotion.status,
        "once_per_customer": promotion.once_per_customer,
    }


def used_count(*, session: Session, promotion: Promotion) -> int:
    return session.scalar(select(func.count()).select_from(PromotionRedemption).where(
        PromotionRedemption.promotion_id == promotion.id,
        PromotionRedemption.status == "used")) or 0
