"""Staff accounts: created by an admin (or `flask create-staff`), re-roled or disabled."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.accounts import passwords, two_factor
from shop.accounts.models import STAFF_ROLES, User
from shop.accounts.services import normalise_email, revoke_all_families
from shop.audit import record as audit_record
from shop.db import utcnow
from shop.errors import Conflict, NotFound, ValidationFailed

log = logging.getLogger(__name__)


def snapshot(user: User) -> dict[str, Any]:
    """What the audit trail records about a staff account (never the password hash)."""
    return {
        "email": user.email, "name": user.name, "role": user.role,
        "disabled": user.disabled_at is not None, "two_factor": user.two_factor_enabled,
    }


def list_staff(*, session: Session, page: int, per_page: int) -> tuple[list[User], int]:
    query = select(User).where(User.role.in_(STAFF_ROLES), User.deleted_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(
        query.order_by(User.id).limit(per_page).offset((page - 1) * per_page)
    )
    return list(items), total


def get_staff(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.role not in STAFF_ROLES or user.deleted_at is not None:
        raise NotFound("No such staff account.", code="staff_not_found")
    return user


def _check_role(role: str) -> None:
    if role not in STAFF_ROLES:
        raise ValidationFailed(
            "Staff accounts have the staff or admin role.", code="invalid_role",
            errors={"role": [f"Must be one of: {', '.join(STAFF_ROLES)}."]},
        )


def create_staff(
    *, session: Session, email: str, password: str, role: str, name: str = "",
    actor: User | None = None,
) -> User:
    """A new staff or admin account; `actor` is the admin creating it (None from the CLI)."""
    email = normalise_email(email)
    _check_role(role)
    passwords.check_policy(password, email=email)
    now = utcnow()
    user = User(
        email=email, password_hash=passwords.hash_password(password), name=name.strip(),
        role=role, password_changed_at=now,
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise Conflict(
            "An account with this email address already exists.", code="email_taken",
            errors={"email": ["An account with this email address already exists."]},
        ) from None
    if actor is not None:
        audit_record(
            session=session, actor=actor, action="staff.create", entity="user",
            entity_id=str(user.id), before=None, after=snapshot(user),
        )
    log.info("staff account created", extra={"user_id": user.id, "role": role})
    return user


def update_staff(
    *, session: Session, actor: User, user_id: int, changes: dict[str, Any]
) -> User:
    """Change a staff account's name, role or disabled state, or turn its two-factor sign-in
    off (a lost phone). Disabling and the reset sign it out; the shop always keeps at least
    one active admin."""
    user = get_staff(session=session, user_id=user_id)
    if "role" in changes:
        _check_role(changes["role"])
    losing_admin = user.role == "admin" and user.disabled_at is None and (
        changes.get("role", "admin") != "admin" or changes.get("disabled") is True
    )
    if losing_admin:
        _keep_an_admin(session=session, leaving=user)
    before = snapshot(user)
    if "name" in changes:
        user.name = changes["name"].strip()
    if "role" in changes:
        user.role = changes["role"]
    if changes.get("disabled") is True and user.disabled_at is None:
        user.disabled_at = utcnow()
        revoke_all_families(session=session, user=user, reason="account_disabled")
    elif changes.get("disabled") is False:
        user.disabled_at = None
    if changes.get("two_factor") is False:
        two_factor.reset_by_admin(session=session, user=user)
    session.flush()
    audit_record(
        session=session, actor=actor, action="staff.update", entity="user",
        entity_id=str(user.id), before=before, after=snapshot(user),
    )
    log.info("staff account updated", extra={"user_id": user.id, "actor_id": actor.id})
    return user


def _keep_an_admin(*, session: Session, leaving: User) -> None:
    # Lock the active admins (primary-key order) so two admins demoting each other at the
    # same moment cannot both succeed.
    admins = session.scalars(
        select(User.id)
        .where(User.role == "admin", User.disabled_at.is_(None), User.deleted_at.is_(None))
        .order_by(User.id)
        .with_for_update()
    ).all()
    if not [admin_id for admin_id in admins if admin_id != leaving.id]:
        raise Conflict("The shop needs at least one active admin.", code="last_admin")
