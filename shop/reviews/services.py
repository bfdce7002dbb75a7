"""Reviews: a customer who bought a product reviews it once (and may edit or delete it),
staff approve or reject it, and only approved reviews are shown, with their summary.

A review is the account's word on the product: one per product per account (a unique key,
so two requests at once make one review), in the account's data export and deleted with it.
Any edit sends it back to staff, so what is published is always what staff approved.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop import status_flow
from shop.accounts.auth import lock_signed_in_account
from shop.accounts.models import User
from shop.audit import record as audit_record
from shop.audit.models import AuditEntry
from shop.catalogue.models import Product, Variant
from shop.db import as_utc, utcnow
from shop.errors import Conflict, NotFound
from shop.notifications import services as notifications
from shop.orders.emails import letter
from shop.orders.models import Order, OrderLine
from shop.reviews.models import ProductReview, reviews_with_details

# An order in one of these has been paid for (and not cancelled): its buyer may review it.
BOUGHT_STATUSES = ("paid", "fulfilled", "completed")
STARS = (1, 2, 3, 4, 5)
AUTHOR_NAME_MAX = 60
ANONYMOUS_AUTHOR = "Verified buyer"
TRANSITIONS: status_flow.Flow = {
    "approve": (frozenset({"pending", "rejected"}), "approved"),
    "reject": (frozenset({"pending", "approved"}), "rejected"),
}
ORDERINGS = {
    "newest": (ProductReview.created_at.desc(), ProductReview.id.desc()),
    "highest": (ProductReview.rating.desc(), ProductReview.created_at.desc(),
                ProductReview.id.desc()),
    "lowest": (ProductReview.rating.asc(), ProductReview.created_at.desc(),
               ProductReview.id.desc()),
}
EDITABLE = ("rating", "title", "body", "author_name")


# --- rules ---------------------------------------------------------------------------------------


def author_name_for(name: str) -> str:
    """The name shown with a review unless the customer chose one: the account's first word
    and the initial of its last ("Lara Croft" -> "Lara C."), or the first word alone."""
    words = name.split()
    if not words:
        return ANONYMOUS_AUTHOR
    first = words[0][:AUTHOR_NAME_MAX - 3]
    initial = next((char for char in words[-1] if char.isalnum()), "") if len(words) > 1 else ""
    return f"{first} {initial.upper()}." if initial else first


def average_rating(total: int, count: int) -> float | None:
    """The mean to one decimal, halves rounded up (4.25 -> 4.3); None without reviews."""
    if not count:
        return None
    return float((Decimal(total) / count).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


# --- the customer's side -------------------------------------------------------------------------


def has_bought(session: Session, *, user_id: int, product_id: int) -> bool:
    """A paid (or dispatched, or completed) order of the account has one of its variants."""
    return bool(session.scalar(select(exists().where(
        Order.user_id == user_id, Order.status.in_(BOUGHT_STATUSES),
        OrderLine.order_id == Order.id, OrderLine.kind == "product",
        OrderLine.variant_id == Variant.id, Variant.product_id == product_id))))


def write(*, session: Session, slug: str, user: User, rating: int, title: str, body: str,
          author_name: str | None = None) -> ProductReview:
    product = _active_product(session, slug)
    # held and read afresh: a review that waited for the account's deletion is refused, and
    # the default author name is the account's name as it is now
    lock_signed_in_account(session=session, user=user)
    if not has_bought(session, user_id=user.id, product_id=product.id):
        raise Conflict(f"Only customers who bought {product.name} can review it.",
                       code="purchase_required")
    if (mine := _review_of(session, product.id, user.id)) is not None:
        raise _already_reviewed(mine)
    review = ProductReview(
        product=product, user_id=user.id, rating=rating, title=title.strip(), body=body.strip(),
        author_name=(author_name or "").strip() or author_name_for(user.name))
    try:
        with session.begin_nested():  # the same account's other request may get there first
            session.add(review)
    except IntegrityError:
        raise _already_reviewed(_review_of(session, product.id, user.id)) from None
    return review


def _review_of(session: Session, product_id: int, user_id: int) -> int | None:
    return session.scalar(select(ProductReview.id).where(
        ProductReview.product_id == product_id, ProductReview.user_id == user_id))


def _already_reviewed(review_id: int | None) -> Conflict:
    return Conflict("You have reviewed this product already: edit your review instead.",
                    code="already_reviewed", review_id=review_id)


def list_mine(*, session: Session, user: User, page: int,
              per_page: int) -> tuple[list[ProductReview], int]:
    mine = ProductReview.user_id == user.id
    total = session.scalar(select(func.count()).select_from(ProductReview).where(mine))
    items = session.scalars(reviews_with_details().where(mine)
                            .order_by(ProductReview.created_at.desc(), ProductReview.id.desc())
                            .limit(per_page).offset((page - 1) * per_page))
    return list(items), total or 0


def edit(*, session: Session, user: User, review_id: int,
         changes: dict[str, Any]) -> ProductReview:
    """Change what was sent; a changed review goes back to staff (pending) before it shows."""
    review = _own(session, user, review_id)
    cleaned = {name: value.strip() if isinstance(value, str) else value
               for name, value in changes.items() if name in EDITABLE}
    changed = {name: value for name, value in cleaned.items() if getattr(review, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(review, name, value)
        review.status, review.rejection_reason = "pending", None
        session.flush()
    return review


def remove(*, session: Session, user: User, review_id: int) -> None:
    session.delete(_own(session, user, review_id))
    session.flush()


def _own(session: Session, user: User, review_id: int) -> ProductReview:
    """The account's review, row-locked; another account's is as good as missing."""
    review = session.scalar(
        select(ProductReview).where(ProductReview.id == review_id,
                                    ProductReview.user_id == user.id)
        .with_for_update().execution_options(populate_existing=True))
    if review is None:
        raise NotFound("No such review.", code="review_not_found")
    return review


# --- what everyone sees --------------------------------------------------------------------------


def public_page(*, session: Session, slug: str, sort: str, page: int,
                per_page: int) -> dict[str, Any]:
    """A page of the product's approved reviews, and the summary of them all."""
    product = _active_product(session, slug)
    summary = rating_summary(session, product_id=product.id)
    items = session.scalars(
        select(ProductReview)
        .where(ProductReview.product_id == product.id, ProductReview.status == "approved")
        .order_by(*ORDERINGS[sort]).limit(per_page).offset((page - 1) * per_page))
    return {"items": list(items), "page": page, "per_page": per_page,
            "total": summary["count"], "summary": summary}


def rating_summary(session: Session, *, product_id: int) -> dict[str, Any]:
    """How many approved reviews, their average and how many gave each rating: one query."""
    rating = ProductReview.rating
    count, total, *per_star = session.execute(
        select(func.count(), func.coalesce(func.sum(rating), 0),
               *(func.count().filter(rating == stars) for stars in STARS))
        .where(ProductReview.product_id == product_id, ProductReview.status == "approved")
    ).one()
    return {"count": count, "average": average_rating(total, count),
            "stars": {str(stars): number for stars, number in zip(STARS, per_star, strict=True)}}


def _active_product(session: Session, slug: str) -> Product:
    product = session.scalar(select(Product).where(Product.slug == slug,
                                                   Product.status == "active"))
    if product is None:
        raise NotFound(f"No product '{slug}'.", code="product_not_found")
    return product


# --- staff ---------------------------------------------------------------------------------------


def list_query(*, status: str | None = None, product: str | None = None) -> Select:
    stmt = reviews_with_details()
    if status:
        stmt = stmt.where(ProductReview.status == status)
    if product:
        stmt = stmt.where(ProductReview.product_id.in_(
            select(Product.id).where(Product.slug == product)))
    return stmt.order_by(ProductReview.created_at.desc(), ProductReview.id.desc())


def get(*, session: Session, review_id: int) -> ProductReview:
    review = session.scalar(reviews_with_details().where(ProductReview.id == review_id))
    if review is None:
        raise NotFound("No such review.", code="review_not_found")
    return review


def approve(*, session: Session, actor: User, review_id: int,
            read_at: datetime) -> ProductReview:
    """Publish it (also one rejected before: staff may change their mind), as staff read it:
    one the customer edited since `read_at` (its updated_at then) is refused, so what is
    published is what staff approved."""
    review = _locked(session, review_id)
    if as_utc(review.updated_at) != as_utc(read_at):
        raise Conflict("The customer changed this review since you read it: read it again.",
                       code="review_changed", updated_at=as_utc(review.updated_at).isoformat())
    before = _move(review, "approve", actor)
    review.rejection_reason = None
    _recorded(session, actor, review, "approve", before)
    return review


def reject(*, session: Session, actor: User, review_id: int, reason: str) -> ProductReview:
    """Keep it off the product page (also one published before); the customer is told why."""
    review = _locked(session, review_id)
    before = _move(review, "reject", actor)
    review.rejection_reason = reason.strip()
    entry = _recorded(session, actor, review, "reject", before, reason=review.rejection_reason)
    _tell_the_author(session, review, entry)
    return review


def _locked(session: Session, review_id: int) -> ProductReview:
    review = session.scalar(select(ProductReview).where(ProductReview.id == review_id)
                            .with_for_update().execution_options(populate_existing=True))
    if review is None:
        raise NotFound("No such review.", code="review_not_found")
    return review


def _move(review: ProductReview, action: str, actor: User) -> str:
    before = review.status
    review.status = status_flow.next_status(TRANSITIONS, before, action, subject="review",
                                            code="invalid_review_transition")
    review.moderated_by_id, review.moderated_at = actor.id, utcnow()
    return before


def _recorded(session: Session, actor: User, review: ProductReview, action: str, before: str,
              **details: Any) -> AuditEntry:
    session.flush()
    return audit_record(session=session, actor=actor, action=f"review.{action}",
                        entity="review", entity_id=str(review.id), before={"status": before},
                        after={"status": review.status, **details})


def _tell_the_author(session: Session, review: ProductReview, entry: AuditEntry) -> None:
    author = review.user
    if author is None or author.deleted_at is not None:
        return
    name = review.product.name
    text, html = letter(f"Your review of {name}", [
        f"Thank you for reviewing {name}. We have not published your review "
        f"\u201c{review.title}\u201d.",
        f"Why: {review.rejection_reason}",
        "You can edit it in your account and we will look at it again.",
    ], [])
    notifications.enqueue_email(
        session=session, to=author.email, text=text, html=html,
        subject=f"Your review of {name}",
        dedupe_key=f"review-rejected:{review.id}:{entry.id}")  # each rejection, once


# --- the account's data --------------------------------------------------------------------------


def export_reviews(*, session: Session, user: User) -> list[dict]:
    rows = session.scalars(reviews_with_details().where(ProductReview.user_id == user.id)
                           .order_by(ProductReview.id))
    return [{"product": row.product.name, "product_slug": row.product.slug,
             "rating": row.rating, "title": row.title, "body": row.body,
             "author_name": row.author_name, "status": row.status,
             "rejection_reason": row.rejection_reason,
             "created_at": row.created_at.isoformat(),
             "updated_at": row.updated_at.isoformat()} for row in rows]


def forget_account(*, session: Session, user: User) -> None:
    """A review is the customer's own words: it goes with the account."""
    session.execute(delete(ProductReview).where(ProductReview.user_id == user.id))
