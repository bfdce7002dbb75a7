"""GET /api/v1/admin/summary: the staff's start page."""

from shop.accounts.auth import access
from shop.admin.summary import schemas, services
from shop.api import Blueprint
from shop.extensions import db

blp = Blueprint("admin_summary", __name__, url_prefix="/api/v1/admin",
                description="Staff: what needs doing now")


@blp.route("/summary")
@access("staff")
@blp.response(200, schemas.SummarySchema)
def summary():
    """Counts of what needs doing: orders to fulfil or complete or flagged, returns on their
    way or here, unanswered enquiries, reviews to moderate, low and sold-out SKUs, emails
    waiting or failed."""
    return services.summary(session=db.session)
