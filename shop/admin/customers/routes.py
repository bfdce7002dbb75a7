"""Customer accounts for staff (reading) and admins (disabling, two-factor resets)."""

from shop.accounts.auth import access, current_user
from shop.admin.customers import schemas, services
from shop.api import Blueprint
from shop.csvio import documents_csv, page_or_csv
from shop.extensions import db

blp = Blueprint("admin_customers", __name__, url_prefix="/api/v1/admin",
                description="Staff: customer accounts")


@blp.route("/customers")
@access("staff")
@blp.arguments(schemas.CustomerQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.CustomerPageSchema)
@documents_csv
def list_customers(page: int, per_page: int, format: str | None = None, **filters):
    """Find customers by email or name, newest first, with their paid orders and spend."""
    return page_or_csv(session=db.session, stmt=services.customers_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.CustomerSchema(),
                       filename="customers", item=services.customer_item)


@blp.route("/customers/<int:user_id>")
@access("staff")
@blp.response(200, schemas.CustomerDetailSchema)
@blp.alt_response(404, description="customer_not_found")
def get_customer(user_id: int):
    """One customer: profile, addresses, paid orders and spend, latest orders."""
    return services.get_customer(session=db.session, user_id=user_id)


@blp.route("/customers/<int:user_id>", methods=["PATCH"])
@access("admin")
@blp.arguments(schemas.CustomerUpdateSchema)
@blp.response(200, schemas.CustomerDetailSchema)
@blp.alt_response(404, description="customer_not_found")
def update_customer(changes: dict, user_id: int):
    """Disable a customer account (signed out everywhere, cannot sign in) or enable it; turn
    off the two-factor sign-in of a customer who lost their phone and recovery codes."""
    detail = services.update_customer(session=db.session, actor=current_user(), user_id=user_id,
                                      **changes)
    db.session.commit()
    return detail
