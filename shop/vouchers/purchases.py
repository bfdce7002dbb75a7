"""Buying vouchers: each voucher line's details copied to its order line at checkout, the
voucher issued exactly once when the order is paid, shown to the buyer, refunded or frozen.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.carts.models import Cart
from shop.catalogue.models import Treatment
from shop.db import as_utc
from shop.errors import Conflict
from shop.money import Money
from shop.vouchers import delivery, services
from shop.vouchers.models import Voucher, VoucherLineDetails


def copy_to_order(*, session: Session, order, cart: Cart) -> None:
    """Snapshot each voucher line's details onto its order line (lines follow the cart order)."""
    items = [item for item in cart.items if item.variant.voucher_kind is not None]
    lines = [line for line in order.lines if line.kind == "voucher"]
    if not items and not lines:
        return
    if [item.variant.sku for item in items] != [line.sku for line in lines]:
        raise RuntimeError(f"order {order.id}: voucher lines do not match the cart's")
    for item, line in zip(items, lines, strict=True):
        details = item.voucher_details or VoucherLineDetails()  # (always there: add_to_cart)
        session.add(VoucherLineDetails(
            order_line_id=line.id, recipient_name=details.recipient_name or "",
            recipient_email=details.recipient_email, message=details.message or "",
            send_on=details.send_on, amount=details.amount,
            voucher_kind=item.variant.voucher_kind, treatment_id=item.variant.treatment_id,
        ))
    session.flush()


def issue_for_order(*, session: Session, order) -> list[Voucher]:
    """The order is paid: issue one voucher per voucher line, once, and queue its delivery."""
    lines = {line.id: line for line in order.lines if line.kind == "voucher"}
    if not lines:
        return []
    done = set(session.scalars(select(Voucher.order_line_id).where(
        Voucher.order_line_id.in_(list(lines)))))
    details = session.scalars(select(VoucherLineDetails).where(
        VoucherLineDetails.order_line_id.in_([i for i in lines if i not in done])))
    issued = []
    for detail in sorted(details, key=lambda d: d.order_line_id):
        line = lines[detail.order_line_id]
        treatment = session.get(Treatment, detail.treatment_id) if detail.treatment_id else None
        voucher = services.issue(
            session=session, kind=detail.voucher_kind, treatment=treatment,
            value=Money(line.unit_price_amount, order.currency),
            recipient_name=detail.recipient_name, recipient_email=detail.recipient_email,
            purchaser_email=order.email, message=detail.message, send_on=detail.send_on,
            order_id=order.id, order_line_id=line.id,
        ).voucher
        delivery.queue_delivery(session=session, voucher=voucher)
        issued.append(voucher)
    return issued


def bought_by(*, session: Session, order_id: int) -> list[Voucher]:
    stmt = select(Voucher).where(Voucher.order_id == order_id).order_by(Voucher.order_line_id)
    return list(session.scalars(stmt))


def order_view(*, session: Session, order) -> list[dict]:
    """The vouchers an order bought, with full codes: only ever shown to the order's viewer."""
    if not any(line.kind == "voucher" for line in order.lines):
        return []  # (issued only for voucher lines)
    return [
        {
            "id": voucher.id, "order_line_id": voucher.order_line_id,
            "code": services.code_for(voucher), "kind": voucher.kind,
            "treatment": ({"slug": voucher.treatment.slug, "name": voucher.treatment.name}
                          if voucher.treatment else None),
            "value": voucher.initial_value.as_dict(),
            "balance": voucher.available.as_dict() if voucher.kind == "money" else None,
            "status": services.effective_status(voucher),
            "expires_at": as_utc(voucher.expires_at).isoformat(),
            "recipient_name": voucher.recipient_name, "recipient_email": voucher.recipient_email,
            "send_on": voucher.send_on.isoformat() if voucher.send_on else None,
        }
        for voucher in bought_by(session=session, order_id=order.id)
    ]


def is_used(voucher: Voucher) -> bool:
    return voucher.balance_amount < voucher.initial_amount or voucher.held_amount > 0 or (
        voucher.status == "redeemed")


def refund_purchases(*, session: Session, order, line_ids: list[int] | None = None,
                     staff=None, reason: str = "voucher purchase refunded") -> list[Voucher]:
    """Void the unused vouchers an order bought (all, or those of `line_ids`) before money goes
    back; refuse (409, nothing changed) if any of them has been used."""
    vouchers = [v for v in bought_by(session=session, order_id=order.id)
                if line_ids is None or v.order_line_id in line_ids]
    used = [v.code_last4 for v in vouchers if v.status != "void" and is_used(v)]
    if used:
        raise Conflict("A voucher bought with this order has been used; it cannot be refunded.",
                       code="voucher_already_used", vouchers=used)
    for voucher in vouchers:
        if voucher.status != "void":
            services.void(session=session, voucher=voucher, reason=reason, staff=staff,
                          order_id=order.id)
    return vouchers


def freeze_for_dispute(*, session: Session, order) -> int:
    """The card payment is disputed: the vouchers it bought cannot be spent meanwhile."""
    frozen = 0
    for voucher in bought_by(session=session, order_id=order.id):
        entry = services.set_frozen(session=session, voucher=voucher, frozen=True,
                                    note="payment disputed", order_id=order.id)
        frozen += entry is not None
    return frozen
