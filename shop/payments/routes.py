"""Stripe's webhook, and the app's call to bring an order's payment up to date."""

from flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop import ratelimits
from shop.accounts.auth import access, current_user
from shop.api import Blueprint
from shop.extensions import db
from shop.orders import services as orders
from shop.orders.routes import ORDER_TOKEN_HEADER
from shop.orders.schemas import OrderQuerySchema, OrderSchema
from shop.payments import customers, schemas, services, webhooks
from shop.payments.models import StripeEvent

blp = Blueprint("payments", __name__, url_prefix="/api/v1", description="Payments")
customers.register_hooks()


@blp.route("/stripe/webhook", methods=["POST"])
@access("webhook")
@blp.response(200, schemas.WebhookAckSchema)
@blp.alt_response(400, description="invalid_signature or invalid_payload: nothing changed")
def stripe_webhook():
    """Receive a signed event from Stripe (called by Stripe, not by clients)."""
    event = webhooks.verify(request.get_data(), request.headers.get("Stripe-Signature"))
    try:
        applied = webhooks.handle_event(session=db.session, event=event)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if not _already_recorded(event["id"]):
            raise
        applied = False  # a concurrent delivery of the same event got there first
    return {"received": True, "duplicate": not applied}


def _already_recorded(event_id: str) -> bool:
    return db.session.scalar(select(StripeEvent.id).where(StripeEvent.event_id == event_id)) \
        is not None


@blp.route("/orders/<int:order_id>/sync", methods=["POST"])
@access("optional")
@ratelimits.per_ip("ORDER_SYNC_RATE_LIMIT")
@blp.arguments(schemas.SyncQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.SyncResultSchema)
@blp.alt_response(404, description="No such order, or not yours")
@blp.alt_response(503, description="payment_provider_unavailable: try again shortly")
def sync_order(order_id: int, access_token: str | None = None):
    """Ask Stripe for the order's payment now and apply it, as the webhook would."""
    order = orders.get_order_for_viewer(
        session=db.session, order_id=order_id, user=current_user(),
        access_token=access_token or request.headers.get(ORDER_TOKEN_HEADER),
    )
    payment = services.sync_order(session=db.session, order=order)
    db.session.commit()
    return {"order": order, "payment": payment}


@blp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@access("optional")
@ratelimits.per_ip("ORDER_CANCEL_RATE_LIMIT")
@blp.arguments(OrderQuerySchema, location="query", as_kwargs=True)
@blp.response(200, OrderSchema)
@blp.alt_response(404, description="No such order, or not yours")
@blp.alt_response(409, description="order_not_cancellable: paid (the clinic cancels and refunds)")
@blp.alt_response(503, description="payment_provider_unavailable: nothing changed; try again")
def cancel_order(order_id: int, access_token: str | None = None):
    """Give up an order not paid yet: its payment is stopped, its stock released at once and
    its cart opened again (to change it and check out anew). Cancelling twice is harmless."""
    order = orders.get_order_for_viewer(
        session=db.session, order_id=order_id, user=current_user(),
        access_token=access_token or request.headers.get(ORDER_TOKEN_HEADER),
    )
    order = services.cancel_for_customer(session=db.session, order=order)
    db.session.commit()  # also when Stripe showed it paid after all: that is settled now
    if order.status != "cancelled":
        raise services.not_cancellable()
    return order
