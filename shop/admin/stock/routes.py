"""Stock admin endpoints (staff role): levels, adjustments and stocktakes, the ledger."""

from shop.accounts.auth import access, current_user
from shop.admin.stock import schemas, services
from shop.api import Blueprint
from shop.csvio import documents_csv, page_or_csv
from shop.extensions import db
from shop.idempotency import idempotent

blp = Blueprint(
    "admin_stock", __name__, url_prefix="/api/v1/admin", description="Staff: stock and ledger"
)


@blp.route("/stock")
@access("staff")
@blp.arguments(schemas.StockQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.StockPageSchema)
@documents_csv
def list_stock(page: int, per_page: int, format: str | None = None, **filters):
    """List stock levels per SKU: on hand, reserved, available, threshold."""
    return page_or_csv(session=db.session, stmt=services.stock_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.StockItemSchema(),
                       filename="stock")


@blp.route("/stock/adjustments", methods=["POST"])
@access("staff")
@idempotent
@blp.arguments(schemas.AdjustmentSchema)
@blp.response(201, schemas.AdjustmentResultSchema)
@blp.alt_response(200, schema=schemas.AdjustmentResultSchema, success=True,
                  description="A stocktake that matched the recorded level: nothing recorded")
@blp.alt_response(404, description="No such SKU")
@blp.alt_response(409, description="Would go below zero or below what is reserved")
def adjust_stock(data: dict):
    """Record a stock adjustment or a stocktake in the ledger."""
    result = services.adjust_stock(session=db.session, actor=current_user(), **data)
    db.session.commit()
    return result, 201 if result.movement else 200


@blp.route("/stock/movements")
@access("staff")
@blp.arguments(schemas.MovementQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.MovementPageSchema)
@documents_csv
def list_movements(page: int, per_page: int, format: str | None = None, **filters):
    """Read the stock ledger, newest first, filtered by SKU, reason, order or date."""
    return page_or_csv(session=db.session, stmt=services.movements_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.MovementSchema(),
                       filename="stock-movements", item=services.movement_item)
