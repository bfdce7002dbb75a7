"""Stock levels, staff adjustments and the ledger, read for people.

Every change goes through inventory.record_movement (one conditional UPDATE on the level row
plus a ledger row), so on_hand stays the sum of the movements and never drops below what is
reserved or below zero, however many staff adjust at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, or_, select
from sqlalchemy.orm import Session, contains_eager, with_expression

from shop.accounts.models import User
from shop.audit import record as audit_record
from shop.back_in_stock.models import BackInStockRequest
from shop.catalogue.models import Product, Variant
from shop.errors import Conflict
from shop.inventory import services as inventory
from shop.inventory.models import StockLevel, StockMovement

stock_available = StockLevel.on_hand - StockLevel.reserved
waiting_customers = (
    select(func.count()).where(BackInStockRequest.variant_id == StockLevel.variant_id,
                               BackInStockRequest.notified_at.is_(None))
    .correlate(StockLevel).scalar_subquery()
)
# An archived variant, or any variant of an archived product, is never sold or restocked again:
# the start page and the low-stock alert leave it out, and staff lists can (it still holds its
# stock until counted out). A draft product's SKUs are not archived: they are stocked before launch.
archived_sku = or_(Variant.is_active.is_(False), Product.status == "archived")


def stock_query(*, sku: str | None = None, low: bool | None = None,
                out: bool | None = None, archived: bool | None = None) -> Select:
    stmt = (
        select(StockLevel)
        .join(StockLevel.variant).join(Variant.product)
        .options(contains_eager(StockLevel.variant).contains_eager(Variant.product),
                 with_expression(StockLevel.waiting, waiting_customers))
    )
    if sku:
        stmt = stmt.where(func.upper(Variant.sku).startswith(sku.upper(), autoescape=True))
    if low is not None:
        below = stock_available < StockLevel.low_stock_threshold
        stmt = stmt.where(below if low else ~below)
    if out is not None:
        stmt = stmt.where(stock_available <= 0 if out else stock_available > 0)
    if archived is not None:
        stmt = stmt.where(archived_sku if archived else ~archived_sku)
    return stmt.order_by(Variant.sku)


def staff_ref(user: User | None) -> dict | None:
    return None if user is None else {"id": user.id, "email": user.email, "name": user.name}


def movements_query(
    *, sku: str | None = None, reason: str | None = None, order_id: int | None = None,
    date_from: datetime | None = None, date_to: datetime | None = None,
) -> Select:
    stmt = (
        select(StockMovement, Variant.sku, Product.name, User)
        .join(Variant, Variant.id == StockMovement.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .outerjoin(User, User.id == StockMovement.staff_user_id)
    )
    if sku:
        stmt = stmt.where(func.upper(Variant.sku) == sku.upper())
    if reason:
        stmt = stmt.where(StockMovement.reason == reason)
    if order_id is not None:
        stmt = stmt.where(StockMovement.order_id == order_id)
    if date_from:
        stmt = stmt.where(StockMovement.created_at >= date_from)
    if date_to:
        stmt = stmt.where(StockMovement.created_at < date_to)
    return stmt.order_by(StockMovement.created_at.desc(), StockMovement.id.desc())


def movement_item(row: Row) -> dict[str, Any]:
    """One movements_query row as the MovementSchema item."""
    movement, sku, product, staff = row
    return {
        "id": movement.id, "sku": sku, "product": product, "quantity": movement.quantity,
        "reason": movement.reason, "note": movement.note,
        "balance_after": movement.balance_after, "order_id": movement.order_id,
        "staff": staff_ref(staff), "created_at": movement.created_at,
    }


@dataclass(frozen=True)
class Adjustment:
    movement: dict[str, Any] | None
    stock: StockLevel
    staff: dict[str, Any]


def _locked_level(session: Session, sku: str) -> StockLevel:
    level = inventory.level_for_sku(session=session, sku=sku)
    return session.scalars(
        select(StockLevel).where(StockLevel.variant_id == level.variant_id)
        .with_for_update().execution_options(populate_existing=True)
    ).one()


def _stocktake_delta(session: Session, sku: str, counted: int) -> tuple[StockLevel, int]:
    """Lock the level so no sale or adjustment slips between reading it and correcting it."""
    level = _locked_level(session, sku)
    if counted < level.reserved:
        raise Conflict(
            f"{level.reserved} units are reserved for unpaid orders; the count cannot be lower.",
            code="insufficient_stock",
        )
    return level, counted - level.on_hand


def adjust_stock(
    *, session: Session, actor: User, sku: str, reason: str, quantity: int | None = None,
    counted: int | None = None, note: str = "",
) -> Adjustment:
    """Record a received/damaged/correction/returned change, or a stocktake's difference."""
    if reason == "stocktake":
        level, quantity = _stocktake_delta(session, sku, counted)
    else:
        level = inventory.level_for_sku(session=session, sku=sku)
    movement = None
    if quantity:
        movement = inventory.record_movement(
            session=session, variant_id=level.variant_id, quantity=quantity, reason=reason,
            note=note, staff_user_id=actor.id,
        )
    session.refresh(level)
    on_hand = movement.balance_after if movement else level.on_hand
    audit_record(
        session=session, actor=actor, action=f"stock.{reason}", entity="stock",
        entity_id=str(level.variant_id),
        before={"sku": level.variant.sku, "on_hand": on_hand - (quantity or 0)},
        after={"sku": level.variant.sku, "on_hand": on_hand, "quantity": quantity or 0,
               "counted": counted, "movement_id": movement.id if movement else None,
               "note": note},
    )
    item = None
    if movement is not None:
        item = movement_item((movement, level.variant.sku, level.variant.product.name, actor))
    return Adjustment(movement=item, stock=level, staff=staff_ref(actor))
