"""Asking to be told when a sold-out variant is back, and telling everyone who asked once it
is. The request answers the same whatever the address, and the email is sent by the worker."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from shop.accounts.models import User
from shop.back_in_stock.models import BackInStockRequest
from shop.catalogue.models import Product, Variant
from shop.db import utcnow
from shop.errors import Conflict, ValidationFailed
from shop.inventory.models import StockLevel
from shop.notifications import services as notifications

log = logging.getLogger(__name__)
KEEP_NOTIFIED = timedelta(days=30)


def request_alert(*, session: Session, sku: str, email: str, user: User | None) -> Variant:
    """Remember that `email` wants to hear when `sku` is back. Asking twice is harmless."""
    variant = _sold_out_variant(session, sku)
    email = email.strip().lower()
    existing = session.scalar(select(BackInStockRequest).where(
        BackInStockRequest.variant_id == variant.id, BackInStockRequest.email == email))
    if existing is None:
        try:
            with session.begin_nested():  # another request for the same pair may get there first
                session.add(BackInStockRequest(variant_id=variant.id, email=email,
                                               user_id=user.id if user else None))
        except IntegrityError:
            pass
    elif existing.notified_at is not None:  # told before: asking again re-arms it
        existing.notified_at, existing.created_at = None, utcnow()
        existing.user_id = existing.user_id or (user.id if user else None)
    session.flush()
    return variant


def _sold_out_variant(session: Session, sku: str) -> Variant:
    variant = session.scalar(select(Variant).where(Variant.sku == sku)
                             .options(joinedload(Variant.product), joinedload(Variant.stock_level)))
    if variant is None or variant.product.status == "draft":
        raise ValidationFailed(f"No product with SKU '{sku}'.", code="sku_not_found",
                               errors={"sku": ["Unknown SKU."]})
    if variant.product.status != "active" or not variant.is_active:
        raise Conflict(f"'{variant.product.name}' is no longer sold.", code="product_unavailable")
    if variant.in_stock:
        raise Conflict(f"'{variant.product.name}' is in stock now: add it to your cart.",
                       code="in_stock", sku=variant.sku, available=variant.available)
    return variant


def send_due(*, session: Session, now: datetime, limit: int) -> int:
    """Email every waiting request whose variant is on sale and in stock again; one email per
    request, then it is done (asking again re-arms it)."""
    due = session.scalars(
        select(BackInStockRequest)
        .join(Variant, Variant.id == BackInStockRequest.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .join(StockLevel, StockLevel.variant_id == Variant.id)
        .where(BackInStockRequest.notified_at.is_(None), Product.status == "active",
               Variant.is_active.is_(True), StockLevel.on_hand - StockLevel.reserved > 0)
        .order_by(BackInStockRequest.created_at, BackInStockRequest.id)
        .limit(limit)
        .with_for_update(of=BackInStockRequest, skip_locked=True)
    ).all()
    for request in due:
        _tell(session, request, now)
    return len(due)


def _tell(session: Session, request: BackInStockRequest, now: datetime) -> None:
    variant = request.variant
    name = f"{variant.product.name} ({variant.name})"
    link = _product_link(variant.product.slug)
    text = "\n".join([
        f"Good news: {name} is back in stock at GLOW Clinic.",
        *([f"Order it here: {link}"] if link else []), "",
        "Everyone who asked is told at the same time, so it may sell quickly.",
        "You asked us to tell you once; we will not email you about it again unless you ask.",
        "", "GLOW Clinic, London",
    ])
    notifications.enqueue_email(
        session=session, to=request.email, subject=f"{variant.product.name} is back in stock",
        text=text, dedupe_key=f"back-in-stock:{request.id}:{request.created_at.isoformat()}")
    request.notified_at = now


def _product_link(slug: str) -> str | None:
    template = current_app.config["PRODUCT_URL"]
    return template.replace("{slug}", slug) if template else None


def purge_notified(*, session: Session, now: datetime, limit: int) -> int:
    """Requests answered more than 30 days ago are deleted (the address goes with them)."""
    ids = session.scalars(
        select(BackInStockRequest.id)
        .where(BackInStockRequest.notified_at < now - KEEP_NOTIFIED)
        .order_by(BackInStockRequest.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    if ids:
        session.execute(delete(BackInStockRequest).where(BackInStockRequest.id.in_(ids)))
    return len(ids)


def waiting_for(*, session: Session, user: User) -> list[BackInStockRequest]:
    """The signed-in customer's requests not answered yet (theirs, or for their address)."""
    return list(session.scalars(
        select(BackInStockRequest)
        .where(or_(BackInStockRequest.user_id == user.id, BackInStockRequest.email == user.email),
               BackInStockRequest.notified_at.is_(None))
        .options(joinedload(BackInStockRequest.variant).joinedload(Variant.product))
        .order_by(BackInStockRequest.created_at, BackInStockRequest.id)))


def withdraw(*, session: Session, user: User, sku: str) -> None:
    """The customer no longer wants the email for this SKU (idempotent)."""
    variant_ids = select(Variant.id).where(Variant.sku == sku).scalar_subquery()
    session.execute(delete(BackInStockRequest).where(
        BackInStockRequest.variant_id.in_(variant_ids), BackInStockRequest.notified_at.is_(None),
        or_(BackInStockRequest.user_id == user.id, BackInStockRequest.email == user.email)))


def forget_account(*, session: Session, user: User) -> None:
    """Account deletion: its requests, and any for its address, are deleted."""
    session.execute(delete(BackInStockRequest).where(or_(
        BackInStockRequest.user_id == user.id, BackInStockRequest.email == user.email)))


def export_requests(*, session: Session, user: User) -> list[dict]:
    rows = session.scalars(
        select(BackInStockRequest).where(BackInStockRequest.user_id == user.id)
        .options(joinedload(BackInStockRequest.variant).joinedload(Variant.product))
        .order_by(BackInStockRequest.id))
    return [{"sku": row.variant.sku, "product": row.variant.product.name, "email": row.email,
             "created_at": row.created_at.isoformat(),
             "notified_at": row.notified_at.isoformat() if row.notified_at else None}
            for row in rows]
