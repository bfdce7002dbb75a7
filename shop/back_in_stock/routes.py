"""POST /back-in-stock: "email me when it is back"."""

from __future__ import annotations

from shop import ratelimits
from shop.accounts.auth import access, current_user
from shop.accounts.export import register_personal_data
from shop.api import Blueprint
from shop.back_in_stock import schemas, services
from shop.extensions import db

blp = Blueprint("back_in_stock", __name__, url_prefix="/api/v1",
                description="Back-in-stock emails for sold-out products")
register_personal_data("back_in_stock", export=services.export_requests,
                       erase=services.forget_account)


@blp.route("/back-in-stock", methods=["POST"])
@access("optional")
@ratelimits.per_ip("BACK_IN_STOCK_RATE_LIMIT")
@ratelimits.per_json_field("BACK_IN_STOCK_EMAIL_RATE_LIMIT", "email")
@blp.arguments(schemas.BackInStockRequestSchema)
@blp.response(202, schemas.BackInStockAcceptedSchema)
@blp.alt_response(409, description="in_stock (add it to the cart instead), product_unavailable")
@blp.alt_response(422, description="sku_not_found, or not an email address")
@blp.alt_response(429, description="Too many requests")
def request_back_in_stock(args):
    """Ask for one email when a sold-out product variant is back in stock."""
    variant = services.request_alert(session=db.session, user=current_user(), **args)
    db.session.commit()
    return {"detail": "We will email you once when it is back in stock.", "sku": variant.sku}


@blp.route("/me/back-in-stock", methods=["GET"])
@access("customer")
@blp.response(200, schemas.WaitingListSchema)
def list_waiting():
    """Your back-in-stock requests still waiting (for the product pages' "we'll email you")."""
    return {"items": services.waiting_for(session=db.session, user=current_user())}


@blp.route("/me/back-in-stock/<sku>", methods=["DELETE"])
@access("customer")
@blp.response(204)
def withdraw(sku: str):
    """No back-in-stock email for this SKU after all (harmless if there was no request)."""
    services.withdraw(session=db.session, user=current_user(), sku=sku)
    db.session.commit()
