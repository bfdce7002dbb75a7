"""A signed-in customer's vouchers: those whose email goes to the account's address (a gift
sent to it, one bought for themselves, store credit from a refund), listed without their codes
and applied to the customer's cart by id. Only once the address is verified: whoever reads
that inbox was sent the code anyway.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.vouchers.models import Voucher


def _addressed_to(user: User) -> ColumnElement[bool]:
    """The voucher's email goes to the user's address (delivery.delivery_address in SQL)."""
    holder = func.coalesce(Voucher.recipient_email, Voucher.purchaser_email)
    return func.lower(holder) == user.email.lower()


def held_by(*, session: Session, user: User) -> list[Voucher]:
    """Soonest to expire first; void ones left out."""
    if user.email_verified_at is None:
        return []
    return list(session.scalars(
        select(Voucher).where(_addressed_to(user), Voucher.status != "void")
        .order_by(Voucher.expires_at, Voucher.id)))


def find_held(*, session: Session, user: User | None, voucher_id: int) -> Voucher | None:
    if user is None or user.email_verified_at is None:
        return None
    return session.scalar(select(Voucher).where(Voucher.id == voucher_id, _addressed_to(user)))


def export_vouchers(*, session: Session, user: User) -> list[dict]:
    """The data export's section: the vouchers addressed to the account (their recipient
    details and message are the customer's data), without codes. Deleting the account keeps
    them: they are the clinic's liability, spendable by whoever has the code."""
    return [{"code_last4": voucher.code_last4, "kind": voucher.kind, "source": voucher.source,
             "initial_value": voucher.initial_value.as_dict(),
             "balance": voucher.balance.as_dict(), "status": voucher.status,
             "recipient_name": voucher.recipient_name,
             "recipient_email": voucher.recipient_email, "message": voucher.message,
             "expires_at": voucher.expires_at.isoformat(),
             "created_at": voucher.created_at.isoformat()}
            for voucher in held_by(session=session, user=user)]
