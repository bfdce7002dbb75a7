"""GET /api/v1/admin/reports/sales (admin role), as JSON or CSV."""

from shop.accounts.auth import access
from shop.admin.reports import schemas, services
from shop.api import Blueprint
from shop.csvio import csv_response, documents_csv, wants_csv, write_csv
from shop.extensions import db

blp = Blueprint("admin_reports", __name__, url_prefix="/api/v1/admin",
                description="Staff: reports")


@blp.route("/reports/sales")
@access("admin")
@blp.arguments(schemas.SalesQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.SalesReportSchema)
@documents_csv
def sales_report(format: str | None = None, **args):
    """Orders, revenue, VAT, refunds and top products between `from` and `to` (UTC days)."""
    report = services.sales_report(session=db.session, **args)
    if wants_csv(format):
        rows = services.report_rows(report)
        return csv_response(write_csv(rows, services.CSV_COLUMNS), "sales")
    return services.report_json(report)
