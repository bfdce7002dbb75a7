"""Single-use codes mailed to an address (password resets, email changes): made, put in the
email, and spent exactly once, as refresh tokens are. Only the SHA-256 of a code is stored."""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import quote

from flask import current_app
from sqlalchemy import update
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.db import Base, as_utc
from shop.schemas import iso_datetime

TOKEN_PLACEHOLDER = "{token}"


def new_code(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"  # 256 random bits


def mailed_link(setting: str, token: str) -> str | None:
    """The URL setting (PASSWORD_RESET_URL, EMAIL_CHANGE_URL) with the token in place of
    {token}, or appended as ?token=; None when the setting is empty."""
    template = current_app.config[setting]
    if not template:
        return None
    if TOKEN_PLACEHOLDER in template:
        return template.replace(TOKEN_PLACEHOLDER, quote(token, safe=""))
    return f"{template}{'&' if '?' in template else '?'}token={quote(token, safe='')}"


def email_text(user: User, *paragraphs: str | list[str]) -> str:
    """A plain-text email to an account holder: greeting, paragraphs, signature."""
    lines = [f"Hello {user.name}," if user.name else "Hello,"]
    for paragraph in paragraphs:
        lines += ["", *([paragraph] if isinstance(paragraph, str) else paragraph)]
    return "\n".join([*lines, "", "GLOW Clinic, London"])


def is_live(row: Base | None, now: datetime) -> bool:
    """A code row found, not used and not expired."""
    return row is not None and row.used_at is None and as_utc(row.expires_at) > now


def spend(session: Session, row: Base, now: datetime) -> bool:
    """Mark a code (or a refresh token) used. The conditional UPDATE is the claim: of two
    concurrent uses, one matches the row and gets True."""
    model = type(row)
    return session.execute(
        update(model).where(model.id == row.id, model.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    ).rowcount == 1


def when(value: datetime | None) -> str | None:
    """A stored time as the data export shows it."""
    return iso_datetime(as_utc(value)) if value else None
