"""Recording and reading the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.audit.models import AuditEntry


def _jsonable(value: Any) -> Any:
    """Snapshots hold plain JSON: dates become ISO strings, tuples and sets lists."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def record(
    *,
    session: Session,
    actor: User,
    action: str,
    entity: str,
    entity_id: str,
    before: dict | None,
    after: dict | None,
) -> AuditEntry:
    """Append one audit entry in the caller's transaction (it commits or rolls back with it)."""
    entry = AuditEntry(
        actor_id=actor.id,
        actor_email=actor.email,
        actor_role=actor.role,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        request_id=g.get("request_id") if has_request_context() else None,
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


def audit_query(filters: AuditFilters) -> Select:
    """Newest first; `actor` matches a user id or an e-mail address."""
    stmt = select(AuditEntry)
    if filters.actor:
        if filters.actor.isdigit():
            stmt = stmt.where(AuditEntry.actor_id == int(filters.actor))
        else:
            stmt = stmt.where(func.lower(AuditEntry.actor_email) == filters.actor.lower())
    if filters.action:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.entity:
        stmt = stmt.where(AuditEntry.entity == filters.entity)
    if filters.entity_id:
        stmt = stmt.where(AuditEntry.entity_id == filters.entity_id)
    if filters.date_from:
        stmt = stmt.where(AuditEntry.created_at >= filters.date_from)
    if filters.date_to:
        stmt = stmt.where(AuditEntry.created_at < filters.date_to)
    return stmt.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
