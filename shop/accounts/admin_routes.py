"""Admin: staff accounts (list, create, change role, disable)."""

from __future__ import annotations

from shop.accounts import schemas, staff
from shop.accounts.auth import access, current_user
from shop.api import Blueprint
from shop.extensions import db
from shop.idempotency import idempotent
from shop.schemas import PageArgsSchema

blp = Blueprint(
    "accounts_staff", __name__, url_prefix="/api/v1/admin",
    description="Admin: staff accounts and their roles",
)


@blp.route("/staff", methods=["GET"])
@access("admin")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, schemas.StaffPageSchema)
def list_staff(page: int, per_page: int):
    """List staff and admin accounts."""
    items, total = staff.list_staff(session=db.session, page=page, per_page=per_page)
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@blp.route("/staff", methods=["POST"])
@access("admin")
@idempotent
@blp.arguments(schemas.StaffCreateSchema)
@blp.links(201, {"user_id": "$response.body#/id"},
           UpdateStaff=("accounts_staff_update_staff", "Change their role or disable them."))
@blp.response(201, schemas.StaffSchema)
@blp.alt_response(409, description="An account with this email exists")
@blp.alt_response(422, description="Invalid fields or a weak password")
def create_staff(args):
    """Create a staff or admin account."""
    user = staff.create_staff(session=db.session, actor=current_user(), **args)
    db.session.commit()
    return user


@blp.route("/staff/<int:user_id>", methods=["PATCH"])
@access("admin")
@blp.arguments(schemas.StaffUpdateSchema)
@blp.response(200, schemas.StaffSchema)
@blp.alt_response(404, description="No such staff account")
@blp.alt_response(409, description="It would leave the shop without an active admin")
def update_staff(changes, user_id: int):
    """Change a staff account's name or role, or disable it (which signs it out)."""
    user = staff.update_staff(
        session=db.session, actor=current_user(), user_id=user_id, changes=changes
    )
    db.session.commit()
    return user
