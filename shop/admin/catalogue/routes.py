"""Catalogue admin endpoints (admin role): categories, products, variants, treatments, CSV."""

from flask import request

from shop.accounts.auth import access, current_user
from shop.admin.catalogue import importer, products, schemas, services, transfer
from shop.admin.schemas import AdminListArgsSchema
from shop.api import Blueprint
from shop.csvio import CSV_MIMETYPE, csv_response, documents_csv, page_or_csv
from shop.errors import ShopError, ValidationFailed
from shop.extensions import db
from shop.http import accepts_body

blp = Blueprint(
    "admin_catalogue", __name__, url_prefix="/api/v1/admin",
    description="Staff: catalogue administration (admin role)",
)
STATUS_ACTION = "<any(publish, unpublish, archive):action>"


class UnsupportedMediaType(ShopError):
    status, code = 415, "unsupported_media_type"


def _committed(value):
    db.session.commit()
    return value


# --- categories ----------------------------------------------------------------------------


@blp.route("/categories")
@access("admin")
@blp.arguments(AdminListArgsSchema, location="query", as_kwargs=True)
@blp.response(200, schemas.CategoryAdminPageSchema)
@documents_csv
def list_categories(page: int, per_page: int, format: str | None = None):
    """List categories in display order."""
    return page_or_csv(session=db.session, stmt=services.categories_query(), page=page,
                       per_page=per_page, format=format, schema=schemas.CategoryAdminSchema(),
                       filename="categories")


@blp.route("/categories", methods=["POST"])
@access("admin")
@blp.arguments(schemas.CategoryCreateSchema)
@blp.links(201, {"slug": "$response.body#/slug"},
           GetCategory=("admin_catalogue_get_category", "Read the category."),
           UpdateCategory=("admin_catalogue_update_category", "Change the category."))
@blp.response(201, schemas.CategoryAdminSchema)
@blp.alt_response(409, description="Slug taken")
def create_category(data: dict):
    """Create a category."""
    return _committed(services.create_category(session=db.session, actor=current_user(),
                                               data=data))


@blp.route("/categories/<slug>")
@access("admin")
@blp.response(200, schemas.CategoryAdminSchema)
@blp.alt_response(404, description="No such category")
def get_category(slug: str):
    """Get one category."""
    return services.get_category(session=db.session, slug=slug)


@blp.route("/categories/<slug>", methods=["PATCH"])
@access("admin")
@blp.arguments(schemas.CategoryUpdateSchema)
@blp.response(200, schemas.CategoryAdminSchema)
@blp.alt_response(409, description="Slug taken")
@blp.alt_response(404, description="No such category")
def update_category(data: dict, slug: str):
    """Change a category's slug, name, description or position."""
    return _committed(services.update_category(session=db.session, actor=current_user(),
                                               slug=slug, data=data))


@blp.route("/categories/<slug>", methods=["DELETE"])
@access("admin")
@blp.response(204)
@blp.alt_response(409, description="Products are filed under it")
@blp.alt_response(404, description="No such category")
def delete_category(slug: str):
    """Delete an empty category."""
    services.delete_category(session=db.session, actor=current_user(), slug=slug)
    db.session.commit()


@blp.route("/categories/<slug>/<any(archive, publish):action>", methods=["POST"])
@access("admin")
@blp.response(200, schemas.CategoryAdminSchema)
@blp.alt_response(404, description="No such category")
def change_category_status(slug: str, action: str):
    """Archive a category (hidden from the storefront) or publish it again."""
    status = "archived" if action == "archive" else "active"
    return _committed(services.set_category_status(session=db.session, actor=current_user(),
                                                   slug=slug, status=status))


# --- products and variants -------------------------------------------------------------------


@blp.route("/products")
@access("admin")
@blp.arguments(schemas.ProductQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.ProductAdminPageSchema)
@documents_csv
def list_products(page: int, per_page: int, format: str | None = None, **filters):
    """List products in every status, with variants, costs and stock."""
    return page_or_csv(session=db.session, stmt=products.products_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.ProductAdminSchema(),
                       filename="products")


@blp.route("/products", methods=["POST"])
@access("admin")
@blp.arguments(schemas.ProductCreateSchema)
@blp.links(201, {"slug": "$response.body#/slug"},
           GetProduct=("admin_catalogue_get_product", "Read the product."),
           UpdateProduct=("admin_catalogue_update_product", "Change the product."),
           CreateVariant=("admin_catalogue_create_variant", "Add a variant to the product."))
@blp.response(201, schemas.ProductAdminSchema)
@blp.alt_response(409, description="Slug or SKU taken, or not publishable")
def create_product(data: dict):
    """Create a product (a draft unless published), optionally with its variants."""
    return _committed(products.create_product(session=db.session, actor=current_user(),
                                              data=data))


@blp.route("/products/<slug>")
@access("admin")
@blp.response(200, schemas.ProductAdminSchema)
@blp.alt_response(404, description="No such product")
def get_product(slug: str):
    """Get a product in any status."""
    return products.get_product(session=db.session, slug=slug)


@blp.route("/products/<slug>", methods=["PATCH"])
@access("admin")
@blp.arguments(schemas.ProductUpdateSchema)
@blp.response(200, schemas.ProductAdminSchema)
@blp.alt_response(409, description="Slug taken")
@blp.alt_response(404, description="No such product")
def update_product(data: dict, slug: str):
    """Edit a product's details."""
    return _committed(products.update_product(session=db.session, actor=current_user(),
                                              slug=slug, data=data))


@blp.route(f"/products/<slug>/{STATUS_ACTION}", methods=["POST"])
@access("admin")
@blp.response(200, schemas.ProductAdminSchema)
@blp.alt_response(409, description="No active variant to publish")
@blp.alt_response(404, description="No such product")
def change_product_status(slug: str, action: str):
    """Publish, unpublish (back to draft) or archive a product."""
    return _committed(products.set_product_status(session=db.session, actor=current_user(),
                                                  slug=slug, action=action))


@blp.route("/products/<slug>", methods=["DELETE"])
@access("admin")
@blp.response(204)
@blp.alt_response(409, description="Has stock history or orders: archive it instead")
@blp.alt_response(404, description="No such product")
def delete_product(slug: str):
    """Delete a product nothing refers to."""
    products.delete_product(session=db.session, actor=current_user(), slug=slug)
    db.session.commit()


@blp.route("/products/<slug>/variants", methods=["POST"])
@access("admin")
@blp.arguments(schemas.VariantCreateSchema)
@blp.response(201, schemas.VariantAdminSchema)
@blp.alt_response(409, description="SKU taken")
@blp.alt_response(404, description="No such product")
def create_variant(data: dict, slug: str):
    """Add a variant (its stock level starts at zero)."""
    return _committed(products.create_variant(session=db.session, actor=current_user(),
                                              slug=slug, data=data))


@blp.route("/products/<slug>/variants/<sku>", methods=["PATCH"])
@access("admin")
@blp.arguments(schemas.VariantUpdateSchema)
@blp.response(200, schemas.VariantAdminSchema)
@blp.alt_response(404, description="No such product, or no such variant of it")
def update_variant(data: dict, slug: str, sku: str):
    """Edit a variant: name, prices, cost, weight, barcode, threshold, active."""
    return _committed(products.update_variant(session=db.session, actor=current_user(),
                                              slug=slug, sku=sku, data=data))


@blp.route("/products/<slug>/variants/<sku>/archive", methods=["POST"])
@access("admin")
@blp.response(200, schemas.VariantAdminSchema)
@blp.alt_response(404, description="No such product, or no such variant of it")
def archive_variant(slug: str, sku: str):
    """Stop selling a variant (kept for orders and the stock ledger)."""
    return _committed(products.archive_variant(session=db.session, actor=current_user(),
                                               slug=slug, sku=sku))


@blp.route("/products/<slug>/variants/<sku>", methods=["DELETE"])
@access("admin")
@blp.response(204)
@blp.alt_response(409, description="Has stock history or orders: archive it instead")
@blp.alt_response(404, description="No such product, or no such variant of it")
def delete_variant(slug: str, sku: str):
    """Delete a variant nothing refers to."""
    products.delete_variant(session=db.session, actor=current_user(), slug=slug, sku=sku)
    db.session.commit()


# --- treatments ------------------------------------------------------------------------------


@blp.route("/treatments")
@access("admin")
@blp.arguments(schemas.StatusQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.TreatmentAdminPageSchema)
@documents_csv
def list_treatments(page: int, per_page: int, format: str | None = None, **filters):
    """List treatments in every status."""
    return page_or_csv(session=db.session, stmt=services.treatments_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.TreatmentAdminSchema(),
                       filename="treatments")


@blp.route("/treatments", methods=["POST"])
@access("admin")
@blp.arguments(schemas.TreatmentCreateSchema)
@blp.links(201, {"slug": "$response.body#/slug"},
           GetTreatment=("admin_catalogue_get_treatment", "Read the treatment."),
           UpdateTreatment=("admin_catalogue_update_treatment", "Change the treatment."))
@blp.response(201, schemas.TreatmentAdminSchema)
@blp.alt_response(409, description="Slug taken")
def create_treatment(data: dict):
    """Create a clinic treatment (a draft unless published)."""
    return _committed(services.create_treatment(session=db.session, actor=current_user(),
                                                data=data))


@blp.route("/treatments/<slug>")
@access("admin")
@blp.response(200, schemas.TreatmentAdminSchema)
@blp.alt_response(404, description="No such treatment")
def get_treatment(slug: str):
    """Get a treatment in any status."""
    return services.get_treatment(session=db.session, slug=slug)


@blp.route("/treatments/<slug>", methods=["PATCH"])
@access("admin")
@blp.arguments(schemas.TreatmentUpdateSchema)
@blp.response(200, schemas.TreatmentAdminSchema)
@blp.alt_response(409, description="Slug taken")
@blp.alt_response(404, description="No such treatment")
def update_treatment(data: dict, slug: str):
    """Edit a treatment: name, description, duration, price, concerns."""
    return _committed(services.update_treatment(session=db.session, actor=current_user(),
                                                slug=slug, data=data))


@blp.route(f"/treatments/<slug>/{STATUS_ACTION}", methods=["POST"])
@access("admin")
@blp.response(200, schemas.TreatmentAdminSchema)
@blp.alt_response(404, description="No such treatment")
def change_treatment_status(slug: str, action: str):
    """Publish, unpublish (back to draft) or archive a treatment."""
    return _committed(services.set_treatment_status(session=db.session, actor=current_user(),
                                                    slug=slug, action=action))


# --- CSV transfer ----------------------------------------------------------------------------


@blp.route("/catalogue/export")
@access("admin")
@blp.doc(responses={"200": {"description": "The catalogue as CSV",
                            "content": {CSV_MIMETYPE: {"schema": {"type": "string"}}}}})
def export_catalogue():
    """Download the whole catalogue as one CSV (categories, product variants, treatments)."""
    return csv_response(transfer.export_catalogue(session=db.session), "catalogue")


@blp.route("/catalogue/import", methods=["POST"])
@access("admin")
@accepts_body(CSV_MIMETYPE)
@blp.arguments(schemas.ImportArgsSchema, location="query", as_kwargs=True)
@blp.response(200, schemas.ImportReportSchema)
@blp.alt_response(422, description="Row-level errors: nothing was written")
@blp.doc(requestBody={"required": True,
                      "content": {CSV_MIMETYPE: {"schema": {"type": "string"}}}})
def import_catalogue(dry_run: bool):
    """Create and update the catalogue from a CSV like the export (all rows or none)."""
    if request.mimetype != CSV_MIMETYPE:
        raise UnsupportedMediaType("Send the catalogue as text/csv.")
    try:
        text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("The file is not UTF-8 text.", code="catalogue_import_invalid",
                               errors={"file": ["Save the CSV as UTF-8."]}) from exc
    report = importer.import_catalogue(session=db.session, actor=current_user(), text=text,
                                       dry_run=dry_run)
    db.session.commit()
    return report
