"""Stock changes. Every change is one conditional UPDATE on the level row plus a ledger row.

The conditional UPDATE (`... WHERE on_hand + :delta >= reserved`) takes the row lock on
PostgreSQL, so concurrent changes queue on it and can never push stock below what exists;
the CHECK constraints are the last line of defence.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from shop.catalogue.models import Variant
from shop.db import insert_now
from shop.errors import Conflict, NotFound
from shop.inventory.models import StockLevel, StockMovement


def create_level(*, session: Session, variant: Variant, low_stock_threshold: int = 5) -> StockLevel:
    level = StockLevel(variant=variant, on_hand=0, reserved=0,
                       low_stock_threshold=low_stock_threshold)
    session.add(level)
    return level


def record_movement(
    *,
    session: Session,
    variant_id: int,
    quantity: int,
    reason: str,
    note: str = "",
    staff_user_id: int | None = None,
    order_id: int | None = None,
) -> StockMovement:
    """Change on-hand stock by a signed quantity, refusing to go below what is reserved."""
    new_on_hand = session.execute(
        update(StockLevel)
        .where(
            StockLevel.variant_id == variant_id,
            StockLevel.on_hand + quantity >= StockLevel.reserved,
            StockLevel.on_hand + quantity >= 0,
        )
        .values(on_hand=StockLevel.on_hand + quantity)
        .returning(StockLevel.on_hand)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if new_on_hand is None:
        _raise_for_missing_or_short(session, variant_id)
    movement = StockMovement(
        variant_id=variant_id, quantity=quantity, reason=reason, note=note,
        balance_after=new_on_hand, staff_user_id=staff_user_id, order_id=order_id,
    )
    session.add(movement)
    session.flush()
    _expire_cached_level(session, variant_id)
    return movement


def _raise_for_missing_or_short(session: Session, variant_id: int) -> None:
    if session.get(StockLevel, variant_id) is None:
        raise NotFound("No stock record for that variant.", code="sku_not_found")
    raise Conflict(
        "Stock cannot go below zero or below what is reserved for pending orders.",
        code="insufficient_stock",
    )


def _expire_cached_level(session: Session, variant_id: int) -> None:
    level = session.identity_map.get(session.identity_key(StockLevel, (variant_id,)))
    if level is not None:
        session.expire(level)


def level_for_sku(*, session: Session, sku: str) -> StockLevel:
    level = session.scalar(
        select(StockLevel).join(StockLevel.variant).where(Variant.sku == sku)
    )
    if level is None:
        raise NotFound(f"No SKU '{sku}'.", code="sku_not_found")
    return level


# Reservations and sales. stock_levels.reserved is the sum of live reservations; each change
# below is one conditional UPDATE, so concurrent checkouts queue on the row lock and the
# WHERE clause (re-checked after the wait) refuses anything that no longer fits.


def _insufficient(session: Session, variant_id: int) -> Conflict:
    sku = session.scalar(select(Variant.sku).where(Variant.id == variant_id))
    return Conflict(
        f"Not enough stock of '{sku}' left.", code="insufficient_stock", sku=sku
    )


# Core, not ORM-enabled: the ORM's bulk UPDATE path costs as much again in Python, for
# nothing here (the session's copy of the row is expired below instead of synchronised).
_LEVELS = StockLevel.__table__
RESERVE = (
    update(_LEVELS)
    .where(_LEVELS.c.variant_id == bindparam("level_variant"),
           _LEVELS.c.on_hand - _LEVELS.c.reserved >= bindparam("units"))
    .values(reserved=_LEVELS.c.reserved + bindparam("units"))
)


def reserve(*, session: Session, variant_id: int, quantity: int) -> None:
    """Hold units for an unpaid order; Conflict insufficient_stock if they are not there."""
    held = session.execute(RESERVE, {"level_variant": variant_id, "units": quantity}).rowcount
    if held != 1:
        raise _insufficient(session, variant_id)
    _expire_cached_level(session, variant_id)


def release(*, session: Session, variant_id: int, quantity: int) -> None:
    """Give held units back to the shelf (an order expired or was cancelled unpaid)."""
    released = session.execute(
        update(StockLevel)
        .where(StockLevel.variant_id == variant_id, StockLevel.reserved >= quantity)
        .values(reserved=StockLevel.reserved - quantity)
        .execution_options(synchronize_session=False)
    ).rowcount
    if released != 1:
        raise Conflict("The reservation does not match the stock record.",
                       code="reservation_mismatch")
    _expire_cached_level(session, variant_id)


SELL_RESERVED = (
    update(_LEVELS)
    .where(_LEVELS.c.variant_id == bindparam("level_variant"),
           _LEVELS.c.reserved >= bindparam("units"), _LEVELS.c.on_hand >= bindparam("units"))
    .values(on_hand=_LEVELS.c.on_hand - bindparam("units"),
            reserved=_LEVELS.c.reserved - bindparam("units"))
    .returning(_LEVELS.c.on_hand)
)


def sell_reserved(
    *, session: Session, variant_id: int, quantity: int, order_id: int
) -> StockMovement:
    """A paid reservation leaves the shelf: on_hand and reserved drop together, plus a
    negative `sale` movement so on_hand stays the sum of the ledger."""
    new_on_hand = session.execute(
        SELL_RESERVED, {"level_variant": variant_id, "units": quantity}
    ).scalar_one_or_none()
    if new_on_hand is None:
        raise Conflict("The reservation does not match the stock record.",
                       code="reservation_mismatch")
    movement = StockMovement(
        variant_id=variant_id, quantity=-quantity, reason="sale", order_id=order_id,
        note=f"order {order_id}", balance_after=new_on_hand,
    )
    insert_now(session, movement)
    _expire_cached_level(session, variant_id)
    return movement


def available_under_lock(*, session: Session, variant_ids: list[int]) -> dict[int, int]:
    """Lock the level rows (in variant order, as every writer does) and report availability."""
    levels = session.scalars(
        select(StockLevel)
        .where(StockLevel.variant_id.in_(sorted(variant_ids)))
        .order_by(StockLevel.variant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {level.variant_id: level.on_hand - level.reserved for level in levels}
