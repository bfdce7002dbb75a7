"""Saving products to a customer's wishlist, listing them as the catalogue lists products,
and the wishlist's part in the data export and account deletion."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app
from sqlalchemy import Row, Select, delete, func, select
from sqlalchemy.orm import Session

from shop.accounts.auth import lock_signed_in_account
from shop.accounts.models import User
from shop.catalogue import listing
from shop.catalogue.models import Product, Variant
from shop.db import insert_once
from shop.errors import Conflict, NotFound
from shop.schemas import iso_datetime
from shop.wishlist.models import WishlistItem


def _saved(user: User) -> Select:
    """(product_id, saved_at, status) of the customer's saved products."""
    return (select(WishlistItem.product_id, WishlistItem.created_at.label("saved_at"),
                   Product.status)
            .join(Product, Product.id == WishlistItem.product_id)
            .where(WishlistItem.user_id == user.id))


def saved_page(*, session: Session, user: User, page: int,
               per_page: int) -> tuple[list[dict], int]:
    """The customer's saved products, most recently saved first, whatever their status now."""
    total = session.scalar(select(func.count()).select_from(WishlistItem)
                           .where(WishlistItem.user_id == user.id)) or 0
    rows = session.execute(
        _saved(user).order_by(WishlistItem.created_at.desc(), WishlistItem.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    return _entries(session, rows), total


def save(*, session: Session, user: User, slug: str) -> tuple[dict, bool]:
    """Save an active product: its entry, and whether it was newly saved (saving a product
    that is already saved changes nothing)."""
    product_id = session.scalar(select(Product.id).where(Product.slug == slug,
                                                         Product.status == "active"))
    if product_id is None:
        raise NotFound(f"No product '{slug}'.", code="product_not_found")
    # One customer's saves take turns, so two at once cannot both take the last place.
    lock_signed_in_account(session=session, user=user)
    this_one = WishlistItem.product_id == product_id
    created = False
    if session.scalar(select(WishlistItem.id).where(WishlistItem.user_id == user.id,
                                                    this_one)) is None:
        _check_room(session, user)
        # (the unique key settles a concurrent save of the same product, lock or not)
        created = insert_once(session, WishlistItem(user_id=user.id, product_id=product_id),
                              unless_exists=("user_id", "product_id"))
    [entry] = _entries(session, session.execute(_saved(user).where(this_one)).all())
    return entry, created


def _check_room(session: Session, user: User) -> None:
    most = current_app.config["WISHLIST_MAX_ITEMS"]
    count = session.scalar(select(func.count()).select_from(WishlistItem)
                           .where(WishlistItem.user_id == user.id))
    if count >= most:
        raise Conflict(f"Your wishlist is full ({most} products): remove one to save another.",
                       code="wishlist_full", limit=most)


def remove(*, session: Session, user: User, slug: str) -> None:
    product_ids = select(Product.id).where(Product.slug == slug)
    result = session.execute(
        delete(WishlistItem)
        .where(WishlistItem.user_id == user.id, WishlistItem.product_id.in_(product_ids))
        .execution_options(synchronize_session=False))
    if result.rowcount == 0:
        raise NotFound(f"'{slug}' is not on your wishlist.", code="wishlist_item_not_found")


def _entries(session: Session, rows: Sequence[Row]) -> list[dict]:
    """Each saved product as WishlistItemSchema dumps it, ready for JSON: the catalogue's
    product summary, already in that form (listing.product_summaries, whatever the product's
    status; marshmallow cannot dump it again), with its headline."""
    ids = [row.product_id for row in rows]
    if not ids:
        return []
    summaries = listing.product_summaries(session, ids)
    on_sale = set(session.scalars(select(Variant.id).where(Variant.product_id.in_(ids),
                                                           Variant.is_active)))
    entries = []
    for product_id, saved_at, status in rows:
        summary = summaries.get(product_id)
        if summary is None:  # deleted since the first read (its row goes with it)
            continue
        available = status == "active"
        entries.append({"product": {**summary, **headline(summary["variants"], on_sale,
                                                          available=available)},
                        "saved_at": iso_datetime(saved_at), "available": available})
    return entries


def headline(variants: list[dict], on_sale: set[int], *, available: bool) -> dict:
    """What a product's card shows above its variants (as the summary lists them): the price
    of its cheapest variant on sale, "from" that price when those variants' prices differ,
    and whether it can be bought now (on sale, with a variant on sale in stock)."""
    selling = [variant for variant in variants if variant["id"] in on_sale]
    cheapest = min(selling, key=lambda variant: variant["price"]["amount"], default=None)
    return {"price": cheapest["price"] if cheapest else None,
            "price_is_from": len({variant["price"]["amount"] for variant in selling}) > 1,
            "in_stock": available and any(variant["in_stock"] for variant in selling)}


def forget_account(*, session: Session, user: User) -> None:
    """Account deletion: the wishlist goes (the anonymised row stays, so no cascade)."""
    session.execute(delete(WishlistItem).where(WishlistItem.user_id == user.id))


def export_items(*, session: Session, user: User) -> list[dict]:
    rows = session.execute(
        select(Product.slug, Product.name, WishlistItem.created_at)
        .join(Product, Product.id == WishlistItem.product_id)
        .where(WishlistItem.user_id == user.id)
        .order_by(WishlistItem.created_at, WishlistItem.id))
    return [{"product": slug, "name": name, "saved_at": saved_at.isoformat()}
            for slug, name, saved_at in rows]
