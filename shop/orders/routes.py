"""A customer's orders, and a guest's view of one order through its access token."""

from flask import Response, request

from shop import ratelimits
from shop.accounts.auth import access, current_user
from shop.accounts.export import register_section
from shop.api import Blueprint
from shop.extensions import db
from shop.orders import credit_notes, receipts, schemas, services

blp = Blueprint("orders", __name__, url_prefix="/api/v1", description="Orders")

ORDER_TOKEN_HEADER = "X-Order-Token"


@blp.after_request
def _never_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/orders")
@access("customer")
@blp.arguments(schemas.OrderListArgsSchema, location="query", as_kwargs=True)
@blp.response(200, schemas.OrderPageSchema)
def list_orders(page: int, per_page: int):
    """List the signed-in customer's orders, newest first."""
    items, total = services.list_orders(
        session=db.session, user=current_user(), page=page, per_page=per_page
    )
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@blp.route("/orders/lookup", methods=["POST"])
@access("public")
@ratelimits.per_ip("ORDER_LOOKUP_RATE_LIMIT")
@blp.arguments(schemas.OrderLookupSchema)
@blp.response(202, schemas.OrderLookupAnswerSchema)
@blp.alt_response(429, description="Too many look-ups from this address")
def look_up_order(data: dict):
    """Lost the way back to an order (a guest's link, say, to start a return)? Give its number
    and the email it was placed with: if they match, that address is emailed a link to it (a
    guest's signed link, valid ORDER_LINK_DAYS). The answer is the same whether they match."""
    services.send_order_link(session=db.session, **data)
    db.session.commit()
    return {"detail": "If an order with that number was placed with that email address, "
                      "a link to it is on its way there."}


@blp.route("/orders/<int:order_id>")
@access("optional")
@blp.arguments(schemas.OrderQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.OrderSchema)
@blp.alt_response(404, description="No such order, or not yours")
def get_order(order_id: int, access_token: str | None = None):
    """Get one order: its customer, or a guest with the order's access token."""
    return services.get_order_for_viewer(
        session=db.session, order_id=order_id, user=current_user(),
        access_token=access_token or request.headers.get(ORDER_TOKEN_HEADER),
    )


@blp.route("/orders/<int:order_id>/receipt")
@access("optional")
@blp.arguments(schemas.OrderQuerySchema, location="query", as_kwargs=True)
@blp.doc(responses={"200": {
    "description": "The VAT receipt, a printable HTML page",
    "content": {"text/html": {"schema": {"type": "string"}}}}})
@blp.alt_response(404, description="No such order, or not yours")
@blp.alt_response(409, description="order_not_paid: a receipt comes once it is paid")
def get_receipt(order_id: int, access_token: str | None = None):
    """The order's VAT receipt (seller, VAT number, date of supply, lines with their VAT
    rate, VAT by rate, total; each refund as a credit note with the VAT it takes back, and
    what was paid and its VAT net of them) as a printable page, for the app to open or share."""
    order = services.get_order_for_viewer(
        session=db.session, order_id=order_id, user=current_user(),
        access_token=access_token or request.headers.get(ORDER_TOKEN_HEADER),
    )
    refunds = credit_notes.for_order(session=db.session, order=order)
    response = Response(receipts.render(order, refunds), mimetype="text/html")
    response.headers["Content-Security-Policy"] = receipts.CSP
    return response


register_section("orders", services.export_orders)
