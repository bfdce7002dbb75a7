"""Shipping methods, and checkout: order + stock reservation first, then the payment."""

from flask import current_app

from shop.accounts.auth import access, current_user
from shop.api import Blueprint
from shop.checkout import schemas, services, shipping
from shop.errors import ServiceUnavailable
from shop.extensions import db
from shop.idempotency import idempotent
from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments import services as payments

blp = Blueprint("checkout", __name__, url_prefix="/api/v1",
                description="Shipping methods and checkout")
# An instance: given the class, webargs builds the schema (deep-copying its fields) per request
CHECKOUT = schemas.CheckoutSchema()


@blp.route("/shipping-methods")
@access("public")
@blp.response(200, schemas.ShippingMethodListSchema)
def list_shipping_methods():
    """List the shipping methods a checkout may choose, with their prices."""
    config = current_app.config
    return {"items": shipping.listing(config["SHOP_CURRENCY"], config["FREE_SHIPPING_THRESHOLD"])}


def _start_payment(order: Order, data: dict) -> dict:
    """Ask Stripe for the payment, outside any lock. If that fails the order is cancelled, its
    stock released and the cart reopened, so the customer can simply try again."""
    order_id = order.id
    try:
        payment = payments.start_payment(
            session=db.session, order=order, user=current_user(), flow=data["payment_flow"],
            success_url=data.get("success_url"), cancel_url=data.get("cancel_url"),
            placed_now=True,
        )
    except Exception as exc:
        unavailable = isinstance(exc, ServiceUnavailable)
        db.session.rollback()
        orders.cancel_unpaid(
            session=db.session, order_id=order_id,
            reason="payment_provider_unavailable" if unavailable else "payment_not_started",
        )
        db.session.commit()
        if not unavailable:
            raise
        raise ServiceUnavailable(
            "The payment provider cannot be reached; nothing was charged. Try again shortly.",
            code="payment_provider_unavailable", headers={"Retry-After": "30"},
        ) from exc
    db.session.commit()
    return payment


@blp.route("/carts/<cart_id>/checkout", methods=["POST"])
@access("optional")
@idempotent
@blp.arguments(CHECKOUT)
@blp.links(201, {"order_id": "$response.body#/order/id"},
           GetOrder=("orders_get_order", "Read the order (a guest adds access_token)."),
           SyncOrder=("payments_sync_order", "Ask Stripe now (a guest adds access_token)."))
@blp.response(201, schemas.CheckoutResultSchema)
@blp.alt_response(404, description="No such cart, or another customer's")
@blp.alt_response(409, description="cart_not_purchasable, insufficient_stock, cart_not_open, "
                                   "promotion_not_applicable, promotion_unavailable, "
                                   "promotion_already_used")
@blp.alt_response(422, description="validation_error, return_url_not_allowed")
@blp.alt_response(503, description="payment_provider_unavailable (the order is cancelled)")
def checkout(data: dict, cart_id: str):
    """Place the order, reserve its stock, and start the payment for the amount due."""
    payments.check_return_urls(  # before anything is written: a bad URL makes no order
        flow=data["payment_flow"], success_url=data.get("success_url"),
        cancel_url=data.get("cancel_url"),
    )
    # What this request commits is what it answers with: reloading the order, its lines and
    # events after each commit cost four SELECTs per checkout for the same values.
    db.session().expire_on_commit = False
    placed = services.place_order(
        session=db.session, cart_id=cart_id, user=current_user(), email=data.get("email"),
        shipping_method=data.get("shipping_method"),
        shipping_address=data.get("shipping_address"),
    )
    db.session.commit()
    payment = _start_payment(placed.order, data) if placed.order.amount_due > 0 else None
    return {"order": placed.order, "payment": payment, "access_token": placed.access_token}
