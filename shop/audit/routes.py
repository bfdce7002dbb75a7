"""GET /api/v1/admin/audit: the audit log, filterable, as JSON or CSV."""

from shop.accounts.auth import access
from shop.api import Blueprint
from shop.audit import schemas, services
from shop.csvio import documents_csv, page_or_csv
from shop.extensions import db

blp = Blueprint(
    "admin_audit", __name__, url_prefix="/api/v1/admin", description="Staff: audit log"
)


@blp.route("/audit")
@access("admin")
@blp.arguments(schemas.AuditQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.AuditPageSchema)
@documents_csv
def list_audit_entries(page: int, per_page: int, format: str | None = None, **filters):
    """Read the audit log of staff writes, newest first."""
    stmt = services.audit_query(services.AuditFilters(**filters))
    return page_or_csv(
        session=db.session, stmt=stmt, page=page, per_page=per_page, format=format,
        schema=schemas.AuditEntrySchema(), filename="audit",
    )
