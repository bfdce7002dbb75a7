"""Order admin endpoints: staff find, fulfil, complete and cancel orders; admins refund."""

from shop.accounts.auth import access, current_user
from shop.admin.orders import refunds, schemas, services
from shop.api import Blueprint
from shop.checkout.schemas import ShippingAddressSchema
from shop.csvio import documents_csv, page_or_csv
from shop.errors import Conflict
from shop.extensions import db
from shop.idempotency import idempotent

blp = Blueprint("admin_orders", __name__, url_prefix="/api/v1/admin",
                description="Staff: orders, fulfilment and refunds")


@blp.route("/orders")
@access("staff")
@blp.arguments(schemas.OrderQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.OrderSummaryPageSchema)
@documents_csv
def list_orders(page: int, per_page: int, format: str | None = None, **filters):
    """List orders, newest first, by status, date range, e-mail or number."""
    return page_or_csv(session=db.session, stmt=services.orders_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.OrderSummarySchema(),
                       filename="orders")


@blp.route("/orders/<int:order_id>")
@access("staff")
@blp.response(200, schemas.OrderDetailSchema)
@blp.alt_response(404, description="No such order")
def get_order(order_id: int):
    """An order with payments, refunds, voucher use, stock movements and its timeline."""
    return services.order_detail(session=db.session, order_id=order_id)


@blp.route("/orders/<int:order_id>/notes", methods=["POST"])
@access("staff")
@idempotent
@blp.arguments(schemas.NewOrderNoteSchema)
@blp.response(201, schemas.OrderNoteSchema)
@blp.alt_response(404, description="No such order")
def add_order_note(data: dict, order_id: int):
    """Keep a note on the order for the other staff (never shown to the customer); the
    order's notes are listed, oldest first, in its detail."""
    note = services.add_note(session=db.session, actor=current_user(), order_id=order_id,
                             **data)
    db.session.commit()
    return note


@blp.route("/orders/<int:order_id>/resolve", methods=["POST"])
@access("staff")
@blp.arguments(schemas.ResolveAttentionSchema)
@blp.response(200, schemas.OrderDetailSchema)
@blp.alt_response(409, description="nothing_to_resolve: the order is not flagged")
@blp.alt_response(404, description="No such order")
def resolve_attention(data: dict, order_id: int):
    """Clear the order's `needs_attention` flag once dealt with, saying what was done: the
    timeline (`attention_resolved`, with the reason it was raised) and audit log keep it."""
    services.resolve_attention(session=db.session, actor=current_user(), order_id=order_id,
                               **data)
    db.session.commit()
    return services.order_detail(session=db.session, order_id=order_id)


@blp.route("/orders/<int:order_id>/fulfil", methods=["POST"])
@access("staff")
@blp.arguments(schemas.FulfilSchema)
@blp.response(200, schemas.OrderDetailSchema)
@blp.alt_response(409, description="invalid_transition: only paid orders are fulfilled")
@blp.alt_response(404, description="No such order")
def fulfil_order(data: dict, order_id: int):
    """Mark a paid order dispatched (carrier, tracking) or ready for collection; e-mails."""
    services.fulfil_order(session=db.session, actor=current_user(), order_id=order_id, **data)
    db.session.commit()
    return services.order_detail(session=db.session, order_id=order_id)


@blp.route("/orders/<int:order_id>/shipping-address", methods=["PUT"])
@access("staff")
@blp.arguments(ShippingAddressSchema)
@blp.response(200, schemas.OrderDetailSchema)
@blp.alt_response(409, description="order_not_delivered (collected at the clinic, or nothing "
                                    "to send), order_already_dispatched")
@blp.alt_response(404, description="No such order")
def change_shipping_address(data: dict, order_id: int):
    """Send the parcel of an order not yet dispatched to another address; the customer is
    e-mailed the new one."""
    services.change_shipping_address(session=db.session, actor=current_user(),
                                     order_id=order_id, address=data)
    db.session.commit()
    return services.order_detail(session=db.session, order_id=order_id)


@blp.route("/orders/<int:order_id>/complete", methods=["POST"])
@access("staff")
@blp.response(200, schemas.OrderDetailSchema)
@blp.alt_response(409, description="invalid_transition: only fulfilled orders complete")
@blp.alt_response(404, description="No such order")
def complete_order(order_id: int):
    """Mark a fulfilled order completed (delivered or collected)."""
    services.complete_order(session=db.session, actor=current_user(), order_id=order_id)
    db.session.commit()
    return services.order_detail(session=db.session, order_id=order_id)


@blp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@access("staff")
@blp.arguments(schemas.CancelSchema)
@blp.response(200, schemas.OrderDetailSchema)
@blp.alt_response(409, description="invalid_transition, order_not_refunded, "
                                    "order_paid_meanwhile")
@blp.alt_response(503, description="payment_provider_unavailable: nothing changed")
@blp.alt_response(404, description="No such order")
def cancel_order(data: dict, order_id: int):
    """Cancel an unpaid order, or a paid one refunded in full before fulfilment."""
    order = services.cancel_order(session=db.session, actor=current_user(), order_id=order_id,
                                  **data)
    db.session.commit()  # also when Stripe turned out to have the order paid
    if order.status != "cancelled":
        raise Conflict("The customer paid meanwhile; refund the order to cancel it.",
                       code="order_paid_meanwhile")
    return services.order_detail(session=db.session, order_id=order_id)


@blp.route("/orders/<int:order_id>/refunds", methods=["POST"])
@access("admin")
@idempotent
@blp.arguments(schemas.RefundRequestSchema)
@blp.response(201, schemas.RefundResultSchema)
@blp.alt_response(409, description="refund_exceeds_payment, refund_exceeds_line, "
                                    "order_not_paid")
@blp.alt_response(503, description="payment_provider_unavailable: nothing was refunded")
@blp.alt_response(404, description="No such order")
def refund_order(data: dict, order_id: int):
    """Refund lines (optionally restocked) or an amount: vouchers first, then the card; or
    all of it as store credit, a new gift voucher emailed to the customer."""
    refund = refunds.refund_order(session=db.session, actor=current_user(), order_id=order_id,
                                  **data)
    db.session.commit()
    return {**services.refund_item(session=db.session, refund=refund),
            "order": services.get_order(session=db.session, order_id=order_id)}
