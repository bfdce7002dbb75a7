"""Promotion codes: on a cart (anyone holding it), and staff's codes (admin)."""

from __future__ import annotations

from shop import ratelimits
from shop.accounts.auth import access, current_user
from shop.api import Blueprint
from shop.carts import services as carts
from shop.carts.schemas import CartSchema
from shop.csvio import documents_csv, page_or_csv
from shop.extensions import db
from shop.promotions import schemas, services

blp = Blueprint("promotions", __name__, url_prefix="/api/v1",
                description="Promotion codes: on a cart, and staff's codes")
services.register_hooks()


def _cart(cart_id: str):
    return carts.view(carts.get_cart(session=db.session, cart_id=cart_id, user=current_user()))


@blp.route("/carts/<cart_id>/promotion", methods=["PUT"])
@access("optional")
@ratelimits.per_ip("PROMOTION_RATE_LIMIT")
@blp.arguments(schemas.ApplyCodeSchema)
@blp.response(200, CartSchema)
@blp.alt_response(404, description="No such cart, or another customer's")
@blp.alt_response(409, description="cart_not_open")
@blp.alt_response(422, description="promotion_invalid: unknown, disabled, not started, "
                                   "expired or used up (`reason`)")
@blp.alt_response(429, description="Too many attempts")
def apply_promotion(args, cart_id: str):
    """Put a promotion code on the cart (one per cart: it replaces any other). The cart's
    `promotion` says whether it takes something off now, and if not why (a minimum spend)."""
    services.apply_code(session=db.session, cart_id=cart_id, user=current_user(), **args)
    db.session.commit()
    return _cart(cart_id)


@blp.route("/carts/<cart_id>/promotion", methods=["DELETE"])
@access("optional")
@blp.response(200, CartSchema)
@blp.alt_response(404, description="No such cart, or another customer's")
@blp.alt_response(409, description="cart_not_open")
def remove_promotion(cart_id: str):
    """Take the promotion code off the cart."""
    services.remove_code(session=db.session, cart_id=cart_id, user=current_user())
    db.session.commit()
    return _cart(cart_id)


@blp.route("/admin/promotions")
@access("admin")
@blp.arguments(schemas.PromotionQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.PromotionPageSchema)
@documents_csv
def list_promotions(page: int, per_page: int, format: str | None = None, **filters):
    """Promotion codes, newest first."""
    return page_or_csv(session=db.session, stmt=services.list_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.PromotionSchema(),
                       filename="promotions")


@blp.route("/admin/promotions", methods=["POST"])
@access("admin")
@blp.arguments(schemas.PromotionCreateSchema)
@blp.response(201, schemas.PromotionSchema)
@blp.alt_response(409, description="promotion_code_taken")
@blp.alt_response(422, description="Invalid fields")
def create_promotion(data: dict):
    """Create a code: `percent_off` (1-100) or `amount_off` off the cart's products (not
    shipping, not gift vouchers), with an optional minimum spend, window and total uses."""
    promotion = services.create(session=db.session, actor=current_user(), data=data)
    db.session.commit()
    return promotion


@blp.route("/admin/promotions/<code>")
@access("admin")
@blp.response(200, schemas.PromotionSchema)
@blp.alt_response(404, description="promotion_not_found")
def get_promotion(code: str):
    """One promotion code with how many orders hold or used it."""
    return services.get(session=db.session, code=code)


@blp.route("/admin/promotions/<code>", methods=["PATCH"])
@access("admin")
@blp.arguments(schemas.PromotionChangeSchema)
@blp.response(200, schemas.PromotionSchema)
@blp.alt_response(404, description="promotion_not_found")
@blp.alt_response(409, description="max_below_redemptions")
@blp.alt_response(422, description="Invalid fields")
def change_promotion(changes: dict, code: str):
    """Change a code's description, window, total uses, or disable it (`status`)."""
    promotion = services.change(session=db.session, actor=current_user(), code=code,
                                changes=changes)
    db.session.commit()
    return promotion
