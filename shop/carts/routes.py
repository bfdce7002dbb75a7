"""Cart endpoints: guests hold a cart by its id; a signed-in customer's cart is theirs alone."""

from flask import request

from shop.accounts.auth import access, current_user
from shop.accounts.export import register_personal_data
from shop.api import Blueprint
from shop.carts import reminders, reorder, schemas, services
from shop.extensions import db
from shop.idempotency import idempotent
from shop.orders import services as orders
from shop.orders.routes import ORDER_TOKEN_HEADER
from shop.orders.schemas import OrderQuerySchema

blp = Blueprint("carts", __name__, url_prefix="/api/v1",
                description="Carts, priced from the catalogue on every read")
reminders.register_hooks()
register_personal_data("carts", export=services.export_carts, erase=services.forget_account)
# An instance: given the class, webargs builds the schema (deep-copying its fields) per request
ITEM_CREATE = schemas.CartItemCreateSchema()


@blp.after_request
def _never_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _keep_what_we_commit() -> None:
    """A cart change answers with the cart it just committed: keeping its objects through the
    commit spares reloading the cart and its lines (a sixth of a cart add's CPU, bench/)."""
    db.session().expire_on_commit = False


def _fresh_view(cart_id: str, shipping_method: str | None = None) -> services.CartView:
    """The cart as committed, priced now (one round of eager loads, not lazy ones)."""
    cart = services.get_cart(session=db.session, cart_id=cart_id, user=current_user())
    return services.view(cart, shipping_method)


@blp.route("/carts", methods=["POST"])
@access("optional")
@idempotent
@blp.links((201, 200), {"cart_id": "$response.body#/id"},
           AddItem=("carts_add_item", "Add a SKU to the cart."),
           GetCart=("carts_get_cart", "Read the cart, priced."),
           Checkout=("checkout_checkout", "Check the cart out."))
@blp.response(201, schemas.CartSchema)
@blp.alt_response(200, schema=schemas.CartSchema, description="The customer's open cart")
def create_cart():
    """Create a cart; a signed-in customer gets their open cart back (200) if they have one."""
    cart, created = services.create_cart(session=db.session, user=current_user())
    db.session.commit()
    return _fresh_view(cart.id), 201 if created else 200


@blp.route("/carts/<cart_id>")
@access("optional")
@blp.arguments(schemas.CartQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.CartSchema)
@blp.alt_response(404, description="No such cart, or another customer's")
def get_cart(cart_id: str, shipping_method: str | None = None):
    """Get a cart with current prices, VAT, shipping and any problems per line."""
    return _fresh_view(cart_id, shipping_method)


@blp.route("/carts/<cart_id>/items", methods=["POST"])
@access("optional")
@idempotent
@blp.arguments(ITEM_CREATE)
@blp.links(201, {"cart_id": "$request.path.cart_id"},
           GetCart=("carts_get_cart", "Read the cart, priced."),
           Checkout=("checkout_checkout", "Check the cart out."))
@blp.response(201, schemas.CartSchema)
@blp.alt_response(404, description="No such cart, or another customer's")
@blp.alt_response(409, description="insufficient_stock, product_unavailable, cart_not_open")
@blp.alt_response(422, description="sku_not_found, quantity_limit_exceeded")
def add_item(data: dict, cart_id: str):
    """Add a SKU to the cart (adding one already there raises its quantity)."""
    _keep_what_we_commit()
    cart = services.add_item(session=db.session, cart_id=cart_id, user=current_user(), **data)
    db.session.commit()
    return services.view(cart)


@blp.route("/carts/<cart_id>/items/<int:item_id>", methods=["PATCH"])
@access("optional")
@blp.arguments(schemas.CartItemUpdateSchema)
@blp.response(200, schemas.CartSchema)
@blp.alt_response(404, description="No such cart or line")
@blp.alt_response(409, description="insufficient_stock, cart_not_open")
def update_item(data: dict, cart_id: str, item_id: int):
    """Change the quantity of a cart line."""
    _keep_what_we_commit()
    cart = services.update_item(session=db.session, cart_id=cart_id, user=current_user(),
                                item_id=item_id, quantity=data["quantity"])
    db.session.commit()
    return services.view(cart)


@blp.route("/carts/<cart_id>/items/<int:item_id>", methods=["DELETE"])
@access("optional")
@blp.response(200, schemas.CartSchema)
@blp.alt_response(404, description="No such cart or line")
def remove_item(cart_id: str, item_id: int):
    """Remove a line from the cart."""
    _keep_what_we_commit()
    cart = services.remove_item(session=db.session, cart_id=cart_id, user=current_user(),
                                item_id=item_id)
    db.session.commit()
    return services.view(cart)


@blp.route("/carts/<cart_id>/claim", methods=["POST"])
@access("customer")
@blp.response(200, schemas.CartSchema)
@blp.alt_response(404, description="No such cart, or another customer's")
def claim_cart(cart_id: str):
    """Merge a guest cart into the signed-in customer's cart and return that cart."""
    cart = services.claim_cart(session=db.session, cart_id=cart_id, user=current_user())
    db.session.commit()
    return _fresh_view(cart.id)


@blp.route("/orders/<int:order_id>/reorder", methods=["POST"])
@access("optional")
@idempotent
@blp.arguments(OrderQuerySchema, location="query", as_kwargs=True)
@blp.links((201, 200), {"cart_id": "$response.body#/cart/id"},
           GetCart=("carts_get_cart", "Read the cart, priced."),
           Checkout=("checkout_checkout", "Check the cart out."))
@blp.response(201, schemas.ReorderSchema)
@blp.alt_response(200, schema=schemas.ReorderSchema, description="Added to the open cart")
@blp.alt_response(404, description="No such order, or not yours")
def reorder_order(order_id: int, access_token: str | None = None):
    """Buy again: the order's products go into your open cart (a new cart for a guest, 201)
    at today's prices; what cannot be added as it was is listed in `skipped`, with why."""
    order = orders.get_order_for_viewer(
        session=db.session, order_id=order_id, user=current_user(),
        access_token=access_token or request.headers.get(ORDER_TOKEN_HEADER),
    )
    result = reorder.reorder(session=db.session, order=order, user=current_user())
    db.session.commit()
    body = {"cart": _fresh_view(result.cart.id), "added": result.added,
            "skipped": result.skipped}
    return body, 201 if result.created else 200
