"""GET /me/wishlist, PUT and DELETE /me/wishlist/{slug}: a signed-in customer's saved
products."""

from __future__ import annotations

from flask import current_app

from shop.accounts.auth import access, current_user
from shop.accounts.export import register_personal_data
from shop.api import Blueprint
from shop.extensions import db
from shop.schemas import PageArgsSchema
from shop.wishlist import schemas, services

blp = Blueprint("wishlist", __name__, url_prefix="/api/v1",
                description="Wishlist: the products a signed-in customer saved for later")
register_personal_data("wishlist", export=services.export_items,
                       erase=services.forget_account)


@blp.after_request
def _never_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/me/wishlist", methods=["GET"])
@access("customer")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, schemas.WishlistPageSchema)
def list_saved(page: int, per_page: int):
    """Your saved products, newest first (those no longer sold listed with `available` false)."""
    items, total = services.saved_page(session=db.session, user=current_user(), page=page,
                                       per_page=per_page)
    return current_app.json.response(  # built to WishlistPageSchema (services._entries)
        {"items": items, "page": page, "per_page": per_page, "total": total})


@blp.route("/me/wishlist/<slug>", methods=["PUT"])
@access("customer")
@blp.links((201, 200), {"slug": "$request.path.slug"},
           Remove=("wishlist_remove", "Take it off the wishlist again."))
@blp.response(201, schemas.WishlistItemSchema)
@blp.alt_response(200, schema=schemas.WishlistItemSchema, success=True,
                  description="It was saved already: nothing changed")
@blp.alt_response(404, description="product_not_found: no such product on sale")
@blp.alt_response(409, description="wishlist_full: WISHLIST_MAX_ITEMS products saved already")
def save(slug: str):
    """Save a product to your wishlist (201; 200 if it was saved already)."""
    entry, created = services.save(session=db.session, user=current_user(), slug=slug)
    db.session.commit()
    return current_app.json.response(entry), 201 if created else 200


@blp.route("/me/wishlist/<slug>", methods=["DELETE"])
@access("customer")
@blp.response(204)
@blp.alt_response(404, description="wishlist_item_not_found: it is not on your wishlist")
def remove(slug: str):
    """Take a product off your wishlist."""
    services.remove(session=db.session, user=current_user(), slug=slug)
    db.session.commit()
