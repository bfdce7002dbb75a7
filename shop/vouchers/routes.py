"""Voucher endpoints: the public look-up, the clinic's staff tools, the liability report."""

from __future__ import annotations

from flask import Response, request

from shop import ratelimits
from shop.accounts.auth import access, current_user
from shop.accounts.export import register_section
from shop.api import Blueprint
from shop.carts import schemas as cart_schemas
from shop.carts import services as carts
from shop.csvio import documents_csv, items_csv, page_or_csv, wants_csv
from shop.db import utcnow
from shop.extensions import db
from shop.idempotency import idempotent
from shop.orders import services as orders
from shop.orders.routes import ORDER_TOKEN_HEADER
from shop.vouchers import (
    checkout,
    clinic,
    delivery,
    reports,
    schemas,
    services,
    staff,
    wallet,
)
from shop.vouchers.models import Voucher

blp = Blueprint("vouchers", __name__, url_prefix="/api/v1", description="Gift vouchers")
checkout.register_hooks()
register_section("vouchers", wallet.export_vouchers)


def public_view(voucher: Voucher) -> dict:
    money = voucher.kind == "money"
    return {
        "kind": voucher.kind,
        "treatment": voucher.treatment if not money else None,
        "balance": voucher.available if money else None,
        "expires_at": voucher.expires_at,
        "status": services.effective_status(voucher),
    }


def summary_view(voucher: Voucher) -> dict:
    return {
        **{name: getattr(voucher, name) for name in (
            "id", "code_last4", "kind", "source", "treatment", "initial_value", "balance", "held",
            "available", "expires_at", "frozen", "recipient_name", "recipient_email",
            "purchaser_email", "send_on", "order_id", "created_at")},
        "status": services.effective_status(voucher),
    }


def admin_view(voucher: Voucher) -> dict:
    return {**summary_view(voucher),
            "ledger": services.ledger(session=db.session, voucher=voucher)}


@blp.after_request
def _never_cache(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/vouchers/<code>")
@access("public")
@ratelimits.per_ip("VOUCHER_LOOKUP_RATE_LIMIT")
@blp.response(200, schemas.VoucherPublicSchema)
@blp.alt_response(404, description="No voucher with that code (`voucher_not_found`)")
@blp.alt_response(429, description="Too many look-ups from this address")
def lookup_voucher(code: str):
    """Look up a voucher by its code: kind, treatment or balance, expiry and status."""
    return public_view(services.get_by_code(session=db.session, code=code))


@blp.route("/admin/vouchers")
@access("staff")
@blp.arguments(schemas.VoucherListArgsSchema, location="query", as_kwargs=True)
@blp.response(200, schemas.VoucherPageSchema)
@documents_csv
def list_vouchers(page: int, per_page: int, format: str | None = None, **filters):
    """Staff: find vouchers by the buyer's or recipient's email or name, the code's last four
    characters, status, kind, order or expiry; newest first (JSON, or CSV rows)."""
    return page_or_csv(session=db.session, stmt=staff.list_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.VoucherSummarySchema(),
                       filename="vouchers", item=lambda row: summary_view(row[0]))


@blp.route("/admin/vouchers", methods=["POST"])
@access("admin")
@idempotent
@blp.arguments(schemas.StaffGiveSchema)
@blp.response(201, schemas.StaffGiveResultSchema)
@blp.alt_response(422, description="Missing or out-of-range value, unknown treatment, or a "
                  "delivery day in the past or more than a year ahead")
def give_voucher(data: dict):
    """Admin: give a voucher from the clinic (goodwill, a complaint put right): a money voucher
    or one treatment, emailed to the recipient like a bought one (its code only there), with
    the reason in its ledger. Audited; send an Idempotency-Key to retry safely."""
    given = staff.give(session=db.session, staff=current_user(), **data)
    db.session.commit()
    return {"voucher": summary_view(given.voucher), "sent_to": given.sent_to,
            "send_after": given.send_after}


@blp.route("/admin/vouchers/<int:voucher_id>/resend", methods=["POST"])
@access("staff")
@idempotent
@blp.arguments(schemas.StaffResendSchema)
@blp.response(202, schemas.StaffResendResultSchema)
@blp.alt_response(404, description="No such voucher")
@blp.alt_response(409, description="`voucher_not_active` (void, redeemed or expired), or "
                  "`voucher_held` (a new code while an unpaid order holds part of it)")
@blp.alt_response(422, description="No address to send it to")
def staff_resend_voucher(data: dict, voucher_id: int):
    """Staff: send a voucher email again, to a corrected recipient if given (a delivery booked
    for a later day keeps its day unless `send_now`), with a fresh code if asked. Audited."""
    result = staff.resend(session=db.session, voucher_id=voucher_id, staff=current_user(),
                          **data)
    db.session.commit()
    return {"voucher": summary_view(result.voucher), "sent_to": result.sent_to,
            "send_after": result.send_after, "code_replaced": result.code_replaced}


@blp.route("/admin/vouchers/<code>")
@access("staff")
@blp.response(200, schemas.VoucherAdminSchema)
@blp.alt_response(404, description="No voucher with that code")
def get_voucher(code: str):
    """Staff: a voucher with its full ledger."""
    return admin_view(services.get_by_code(session=db.session, code=code))


@blp.route("/admin/vouchers/<code>/redemptions", methods=["POST"])
@access("staff")
@idempotent
@blp.arguments(schemas.RedemptionSchema)
@blp.response(201, schemas.RedemptionResultSchema)
@blp.alt_response(404, description="No voucher with that code")
@blp.alt_response(409, description="Expired, void, redeemed, frozen or not enough balance")
@blp.alt_response(422, description="Wrong fields for the kind, or a top-up is required")
def redeem_voucher(body: dict, code: str):
    """Staff: redeem at the clinic (treatment, with a recorded top-up if dearer; or an amount)."""
    voucher, entries = clinic.redeem(session=db.session, code=code, staff=current_user(), **body)
    db.session.commit()
    return {"voucher": admin_view(voucher), "transactions": entries}


@blp.route("/admin/vouchers/<code>/void", methods=["POST"])
@access("staff")
@blp.arguments(schemas.VoidSchema)
@blp.response(200, schemas.VoucherAdminSchema)
@blp.alt_response(404, description="No voucher with that code")
@blp.alt_response(409, description="Already void, or held by an unpaid order")
def void_voucher(body: dict, code: str):
    """Staff: void a voucher (its balance goes to zero), with a reason."""
    voucher = clinic.void(session=db.session, code=code, staff=current_user(), **body)
    db.session.commit()
    return admin_view(voucher)


@blp.route("/admin/vouchers/<code>/extend", methods=["POST"])
@access("staff")
@blp.arguments(schemas.ExtendSchema)
@blp.response(200, schemas.VoucherAdminSchema)
@blp.alt_response(404, description="No voucher with that code")
@blp.alt_response(409, description="Void or fully redeemed")
@blp.alt_response(422, description="The new expiry is not later")
def extend_voucher(body: dict, code: str):
    """Staff: move a voucher's expiry later (a new date, or a number of months)."""
    voucher = clinic.extend(session=db.session, code=code, staff=current_user(), **body)
    db.session.commit()
    return admin_view(voucher)


@blp.route("/admin/reports/voucher-liability")
@access("staff")
@blp.arguments(schemas.LiabilityArgsSchema, location="query", as_kwargs=True)
@blp.response(200, schemas.LiabilityReportSchema)
@documents_csv
def voucher_liability(format: str | None = None):
    """Staff: outstanding voucher value by kind and month of expiry (JSON, or CSV rows)."""
    report = reports.liability(session=db.session, now=utcnow())
    if wants_csv(format):
        return items_csv(report["rows"], schemas.LiabilityRowSchema(), "voucher-liability")
    return report


@blp.route("/orders/<int:order_id>/vouchers/<int:voucher_id>/resend", methods=["POST"])
@access("optional")
@blp.arguments(schemas.OrderTokenArgsSchema, location="query", as_kwargs=True)
@blp.response(202, schemas.ResendSchema)
@blp.alt_response(404, description="No such order or voucher, or not yours")
def resend_voucher(order_id: int, voucher_id: int, access_token: str | None = None):
    """The buyer (or a guest with the order's token) has a voucher's email sent again."""
    order = orders.get_order_for_viewer(
        session=db.session, order_id=order_id, user=current_user(),
        access_token=access_token or request.headers.get(ORDER_TOKEN_HEADER),
    )
    voucher = delivery.resend_for_order(session=db.session, order_id=order.id,
                                        voucher_id=voucher_id)
    db.session.commit()
    return {"voucher_id": voucher.id, "sent_to": delivery.delivery_address(voucher)}


@blp.route("/me/vouchers")
@access("customer")
@blp.response(200, schemas.WalletSchema)
def my_vouchers():
    """Your vouchers: those emailed to your account's address (gifts, ones you bought for
    yourself, store credit from a refund), soonest to expire first, void ones left out; once
    the address is verified. Apply a money one to your cart by its id."""
    user = current_user()
    return {"email_verified": user.email_verified_at is not None,
            "items": [{**summary_view(voucher), "message": voucher.message}
                      for voucher in wallet.held_by(session=db.session, user=user)]}


def _cart_view(cart_id: str) -> carts.CartView:
    return carts.view(carts.get_cart(session=db.session, cart_id=cart_id, user=current_user()))


@blp.route("/carts/<cart_id>/vouchers", methods=["POST"])
@access("optional")
@ratelimits.per_ip("VOUCHER_LOOKUP_RATE_LIMIT")
@blp.arguments(schemas.ApplyVoucherSchema)
@blp.response(200, cart_schemas.CartSchema)
@blp.alt_response(422, description="`voucher_not_usable`: one answer for unknown, expired, "
                  "void and used-up codes")
@blp.alt_response(429, description="Too many attempts from this address")
@blp.alt_response(404, description="No such cart, or another customer's")
def apply_cart_voucher(data: dict, cart_id: str):
    """Apply a money voucher to the cart (several stack) by its `code`, or, signed in, one of
    your vouchers by `voucher_id`; the card pays what they do not."""
    checkout.apply_code(session=db.session, cart_id=cart_id, user=current_user(), **data)
    db.session.commit()
    return _cart_view(cart_id)


@blp.route("/carts/<cart_id>/vouchers", methods=["DELETE"])
@access("optional")
@blp.arguments(schemas.CartVoucherSchema)
@blp.response(200, cart_schemas.CartSchema)
@blp.alt_response(404, description="That voucher is not applied to this cart")
def remove_cart_voucher(data: dict, cart_id: str):
    """Remove a voucher from the cart (its full code, or the last four characters shown)."""
    checkout.remove_code(session=db.session, cart_id=cart_id, user=current_user(), **data)
    db.session.commit()
    return _cart_view(cart_id)


@blp.route("/carts/<cart_id>/vouchers/<code>", methods=["DELETE"])
@access("optional")
@blp.response(200, cart_schemas.CartSchema)
@blp.alt_response(404, description="That voucher is not applied to this cart")
def remove_cart_voucher_by_path(cart_id: str, code: str):
    """Remove a voucher from the cart by the last four characters the cart shows."""
    checkout.remove_code(session=db.session, cart_id=cart_id, user=current_user(), code=code)
    db.session.commit()
    return _cart_view(cart_id)
