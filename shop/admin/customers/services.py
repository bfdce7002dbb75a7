"""Customer accounts for staff: find one, see their orders at a glance, export those who
agreed to marketing email, and (admins) disable an abusive account or turn off the two-factor
sign-in of a customer who lost their phone and recovery codes."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import Row, Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from shop.accounts import two_factor as two_factor_settings
from shop.accounts.models import User
from shop.accounts.services import revoke_all_families
from shop.audit import record as audit_record
from shop.db import utcnow
from shop.errors import NotFound
from shop.money import Money
from shop.orders.models import Order

RECENT_ORDERS = 10
_paid = Order.paid_at.is_not(None) & (Order.status != "cancelled")
_orders_count = (select(func.count()).where(Order.user_id == User.id, _paid)
                 .correlate(User).scalar_subquery())
_spent = (select(func.coalesce(func.sum(Order.total_amount), 0))
          .where(Order.user_id == User.id, _paid).correlate(User).scalar_subquery())


def customers_query(*, q: str | None = None, marketing_consent: bool | None = None,
                    email_verified: bool | None = None, include_deleted: bool = False) -> Select:
    stmt = select(User, _orders_count.label("orders"), _spent.label("spent")).where(
        User.role == "customer")
    if not include_deleted:
        stmt = stmt.where(User.deleted_at.is_(None))
    if q:
        pattern = q.strip().lower()
        stmt = stmt.where(or_(User.email.contains(pattern, autoescape=True),
                              func.lower(User.name).contains(pattern, autoescape=True)))
    if marketing_consent is not None:
        stmt = stmt.where(User.marketing_consent.is_(marketing_consent))
    if email_verified is not None:
        proved = User.email_verified_at.is_not(None)
        stmt = stmt.where(proved if email_verified else ~proved)
    return stmt.order_by(User.created_at.desc(), User.id.desc())


def customer_item(row: Row) -> dict[str, Any]:
    user, orders, spent = row
    return {"user": user, "orders": orders,
            "spent": Money(spent, current_app.config["SHOP_CURRENCY"])}


def get_customer(*, session: Session, user_id: int) -> dict[str, Any]:
    row = session.execute(customers_query(include_deleted=True).where(User.id == user_id)).first()
    if row is None:
        raise NotFound("No such customer.", code="customer_not_found")
    detail = customer_item(row)
    detail["recent_orders"] = list(session.scalars(
        select(Order).where(Order.user_id == user_id).options(selectinload(Order.lines))
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(RECENT_ORDERS)))
    return detail


def update_customer(*, session: Session, actor: User, user_id: int,
                    disabled: bool | None = None, two_factor: bool | None = None) -> dict:
    """Disable a customer account (it is signed out everywhere and cannot sign in) or enable
    it again; or turn its two-factor sign-in off (its owner lost both the app and the recovery
    codes). Their orders, vouchers and data stay as they are."""
    user = session.scalar(select(User).where(User.id == user_id, User.role == "customer")
                          .with_for_update())
    if user is None:
        raise NotFound("No such customer.", code="customer_not_found")
    asked = {"disabled": disabled, "two_factor": two_factor}
    before = {name: value for name, value in _state(user).items() if asked[name] is not None}
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
        revoke_all_families(session=session, user=user, reason="account_disabled")
    elif disabled is False:
        user.disabled_at = None
    if two_factor is False:
        two_factor_settings.reset_by_admin(session=session, user=user)
    session.flush()
    audit_record(session=session, actor=actor, action="customer.update", entity="user",
                 entity_id=str(user.id), before=before,
                 after={name: value for name, value in _state(user).items() if name in before})
    return get_customer(session=session, user_id=user_id)


def _state(user: User) -> dict[str, bool]:
    return {"disabled": user.disabled_at is not None, "two_factor": user.two_factor_enabled}
