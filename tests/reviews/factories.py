"""Customers who bought a product (an order placed through checkout, then marked paid), and
reviews written straight into the table for the tests of what is shown."""

from __future__ import annotations

from datetime import datetime

from shop.catalogue.models import Product, Variant
from shop.db import utcnow
from shop.reviews.models import ProductReview
from tests.admin.factories import make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user

MINE = "/api/v1/me/reviews"
ADMIN = "/api/v1/admin/reviews"
REVIEW = {"rating": 5, "title": "My skin drinks it", "body": "Plump and calm by the morning."}


def reviews_url(product: Product) -> str:
    return f"/api/v1/products/{product.slug}/reviews"


def bought(session, user, *, variant: Variant | None = None, status: str = "paid") -> Product:
    """A product `user` ordered one of; the order `status` (pending_payment: not paid yet)."""
    variant = variant or make_variant(session)
    order = place_order(session, [(variant, 1)], user=user, email=user.email)
    if status != "pending_payment":
        order.status, order.paid_at = status, utcnow()
    session.flush()
    return variant.product


def buyer(session, *, name: str = "Lara Croft", variant: Variant | None = None):
    """(user, bearer headers, the product they bought)."""
    user = make_user(session, name=name)
    return user, bearer_for(session, user), bought(session, user, variant=variant)


def review_row(session, product: Product, *, rating: int, status: str = "approved",
               created_at: datetime | None = None, **fields) -> ProductReview:
    review = ProductReview(product_id=product.id, user_id=make_user(session).id, rating=rating,
                           title=fields.pop("title", f"{rating} stars"),
                           body=fields.pop("body", "As described."),
                           author_name=fields.pop("author_name", "Ann B."), status=status,
                           created_at=created_at or utcnow(), **fields)
    session.add(review)
    session.flush()
    return review


def approve(client, headers: dict, review_id: int):
    """Staff approve the review as they read it (its updated_at)."""
    read = client.get(f"{ADMIN}/{review_id}", headers=headers)
    updated_at = read.json["updated_at"] if read.status_code == 200 else utcnow().isoformat()
    return client.post(f"{ADMIN}/{review_id}/approve", json={"updated_at": updated_at},
                       headers=headers)
