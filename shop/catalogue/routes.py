"""Public catalogue endpoints: cacheable, read-only."""

from flask import Response, current_app, request

from shop.accounts.auth import access
from shop.api import Blueprint
from shop.catalogue import cache, cards, listing, schemas, services, suggestions
from shop.extensions import db, limiter
from shop.http import make_cacheable

blp = Blueprint(
    "catalogue", __name__, url_prefix="/api/v1", description="Products, treatments and routines"
)


blp.record_once(lambda state: cache.install(state.app))
blp.record_once(lambda state: cards.install(state.app))
# An instance: given the class, webargs builds a schema (deep-copying its fields) per request
PRODUCT_QUERY = schemas.ProductQuerySchema()


@limiter.request_filter
def _catalogue_reads_are_not_limited() -> bool:
    """The public catalogue carries no rate limit, and its cache hits never reach the limiter:
    resolving the (no) limits of a cache miss was 5% of its CPU."""
    return request.blueprint == blp.name


@blp.after_request
def _cache_public_reads(response):
    cache.remember(response)
    return make_cacheable(response, current_app.config["CATALOGUE_CACHE_SECONDS"])


@blp.route("/categories")
@access("public")
@blp.response(200, schemas.CategoryPageSchema)
def list_categories():
    """List product categories in display order."""
    items = services.list_categories(session=db.session)
    return {"items": items, "page": 1, "per_page": len(items), "total": len(items)}


@blp.route("/categories/<slug>")
@access("public")
@blp.response(200, schemas.CategorySchema)
@blp.alt_response(404, description="No such category")
def get_category(slug: str):
    """Get one category."""
    return services.get_category(session=db.session, slug=slug)


@blp.route("/products")
@access("public")
@blp.arguments(PRODUCT_QUERY, location="query", as_kwargs=True)
@blp.response(200, schemas.ProductPageSchema)
def list_products(**args):
    """List active products: filter, full-text search, sort and page."""
    filters = services.ProductFilters(
        **args, total_limit=current_app.config["CATALOGUE_TOTAL_LIMIT"])
    page = cards.product_page_json(session=db.session, filters=filters)
    return Response(page, mimetype="application/json")  # ProductPageSchema, see cards.py


@blp.route("/products/<slug>")
@access("public")
@blp.response(200, schemas.ProductSchema)
@blp.alt_response(404, description="No such active product")
def get_product(slug: str):
    """Get an active product with its variants, availability and ingredients."""
    product = listing.product_detail(session=db.session, slug=slug)
    return current_app.json.response(product)  # built to ProductSchema (listing.py)


@blp.route("/suggestions")
@access("public")
@blp.arguments(schemas.SuggestionQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.SuggestionListSchema)
def list_suggestions(q: str, limit: int):
    """As the customer types: products, categories and treatments with a word of their name
    starting with `q` (products first), for the search box to offer."""
    return {"items": suggestions.suggest(session=db.session, q=q, limit=limit)}


@blp.route("/treatments")
@access("public")
@blp.arguments(schemas.TreatmentQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.TreatmentPageSchema)
def list_treatments(page: int, per_page: int, concern: str | None = None):
    """List the clinic's treatments, optionally those addressing a concern."""
    items, total = services.list_treatments(
        session=db.session, concern=concern, page=page, per_page=per_page
    )
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@blp.route("/treatments/<slug>")
@access("public")
@blp.response(200, schemas.TreatmentSchema)
@blp.alt_response(404, description="No such treatment")
def get_treatment(slug: str):
    """Get one clinic treatment."""
    return services.get_treatment(session=db.session, slug=slug)


@blp.route("/routine")
@access("public")
@blp.arguments(schemas.RoutineQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.RoutineSchema)
def get_routine(skin_type: str, concern: str | None = None):
    """The clinic's AM, PM and weekly routine for a skin type, with treatments for a concern."""
    return services.build_routine(session=db.session, skin_type=skin_type, concern=concern)
