"""Returns: the customer asks (`/orders/{id}/returns`), staff handle them (`/admin/returns`)."""

from __future__ import annotations

from flask import request

from shop import ratelimits
from shop.accounts.auth import access, current_user
from shop.accounts.export import register_personal_data
from shop.api import Blueprint
from shop.csvio import documents_csv, page_or_csv
from shop.extensions import db
from shop.idempotency import idempotent
from shop.orders import services as orders
from shop.orders.routes import ORDER_TOKEN_HEADER
from shop.orders.schemas import OrderQuerySchema
from shop.returns import schemas, services

blp = Blueprint("returns", __name__, url_prefix="/api/v1",
                description="Returns: sending products back for a refund")
register_personal_data("returns", export=services.export_returns,
                       erase=services.forget_account)


def _viewed_order(order_id: int, access_token: str | None):
    return orders.get_order_for_viewer(
        session=db.session, order_id=order_id, user=current_user(),
        access_token=access_token or request.headers.get(ORDER_TOKEN_HEADER))


@blp.route("/orders/<int:order_id>/returns")
@access("optional")
@blp.arguments(OrderQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.ReturnOverviewSchema)
@blp.alt_response(404, description="No such order, or not yours")
def list_returns(order_id: int, access_token: str | None = None):
    """The order's returns, the lines that can still be sent back and until when."""
    return services.overview(session=db.session, order=_viewed_order(order_id, access_token))


@blp.route("/orders/<int:order_id>/returns", methods=["POST"])
@access("optional")
@ratelimits.per_ip("RETURN_RATE_LIMIT")
@idempotent
@blp.arguments(OrderQuerySchema, location="query", as_kwargs=True)
@blp.arguments(schemas.ReturnRequestSchema)
@blp.response(201, schemas.ReturnSchema)
@blp.alt_response(404, description="No such order, or not yours")
@blp.alt_response(409, description="order_not_returnable (not dispatched yet, or cancelled), "
                                    "return_window_closed, return_exceeds_line")
@blp.alt_response(422, description="Invalid fields; a gift voucher line (the clinic refunds "
                                    "those)")
@blp.alt_response(429, description="Too many return requests")
def request_return(data: dict, order_id: int, access_token: str | None = None):
    """Ask to send products of a dispatched order back (within RETURN_WINDOW_DAYS): the
    customer is emailed where to send them, the clinic is told; the refund follows once the
    clinic has them."""
    order = _viewed_order(order_id, access_token)
    returned = services.request_return(session=db.session, order_id=order.id, **data)
    db.session.commit()
    return services.get(session=db.session, return_id=returned.id)


@blp.route("/orders/<int:order_id>/returns/<int:return_id>/withdraw", methods=["POST"])
@access("optional")
@blp.arguments(OrderQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.ReturnSchema)
@blp.alt_response(404, description="return_not_found")
@blp.alt_response(409, description="invalid_return_transition: the clinic has it already")
def withdraw_return(order_id: int, return_id: int, access_token: str | None = None):
    """Withdraw a return request the clinic has not received yet."""
    order = _viewed_order(order_id, access_token)
    services.withdraw(session=db.session, order_id=order.id, return_id=return_id)
    db.session.commit()
    return services.get(session=db.session, return_id=return_id)


@blp.route("/admin/returns")
@access("staff")
@blp.arguments(schemas.ReturnQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.StaffReturnPageSchema)
@documents_csv
def list_staff_returns(page: int, per_page: int, format: str | None = None, **filters):
    """Returns, newest first (`status=requested` for parcels on their way)."""
    return page_or_csv(session=db.session, stmt=services.list_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.StaffReturnSchema(),
                       filename="returns")


@blp.route("/admin/returns/<int:return_id>")
@access("staff")
@blp.response(200, schemas.StaffReturnSchema)
@blp.alt_response(404, description="return_not_found")
def get_return(return_id: int):
    """One return."""
    return services.get(session=db.session, return_id=return_id)


@blp.route("/admin/returns/<int:return_id>/receive", methods=["POST"])
@access("staff")
@blp.arguments(schemas.ReceiveSchema)
@blp.response(200, schemas.StaffReturnSchema)
@blp.alt_response(404, description="return_not_found")
@blp.alt_response(409, description="invalid_return_transition")
def receive_return(data: dict, return_id: int):
    """The parcel arrived: mark the return received (audited)."""
    services.receive(session=db.session, actor=current_user(), return_id=return_id, **data)
    db.session.commit()
    return services.get(session=db.session, return_id=return_id)


@blp.route("/admin/returns/<int:return_id>/reject", methods=["POST"])
@access("staff")
@blp.arguments(schemas.RejectSchema)
@blp.response(200, schemas.StaffReturnSchema)
@blp.alt_response(404, description="return_not_found")
@blp.alt_response(409, description="invalid_return_transition")
def reject_return(data: dict, return_id: int):
    """Refuse a return; the customer is emailed the reason (audited)."""
    services.reject(session=db.session, actor=current_user(), return_id=return_id, **data)
    db.session.commit()
    return services.get(session=db.session, return_id=return_id)


@blp.route("/admin/returns/<int:return_id>/refund", methods=["POST"])
@access("admin")
@idempotent
@blp.arguments(schemas.ReturnRefundSchema)
@blp.response(200, schemas.StaffReturnSchema)
@blp.alt_response(404, description="return_not_found")
@blp.alt_response(409, description="invalid_return_transition; refund_exceeds_line when the "
                                    "lines were refunded another way meanwhile")
@blp.alt_response(503, description="payment_provider_unavailable: nothing was refunded")
def refund_return(data: dict, return_id: int):
    """Refund the returned lines at the price paid, gift vouchers first and then the card,
    optionally back on the shelf; the customer is emailed (audited)."""
    services.refund(session=db.session, actor=current_user(), return_id=return_id, **data)
    db.session.commit()
    return services.get(session=db.session, return_id=return_id)
