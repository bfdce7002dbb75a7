"""Liveness and readiness probes for load balancers, outside the versioned API."""

from flask import Blueprint
from sqlalchemy import text

from shop.accounts.auth import access
from shop.errors import problem
from shop.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/health")
@access("public")
def health():
    """The process is up."""
    return {"status": "ok"}


@bp.get("/ready")
@access("public")
def ready():
    """The database answers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not ready", never a 500
        db.session.rollback()
        return problem(503, "database_unavailable", "The database is not reachable.")
    return {"status": "ready"}
