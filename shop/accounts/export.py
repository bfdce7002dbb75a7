"""The customer's data as JSON (a UK GDPR subject access request).

Accounts supplies the profile, address book and sessions; other domains add their own
sections at import time:

    from shop.accounts.export import register_section
    register_section("orders", lambda *, session, user: [...])

A section function takes keyword-only `session` and `user` and returns JSON-able data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from shop.accounts import addresses, services
from shop.accounts.models import User
from shop.db import utcnow

Section = Callable[..., Any]
CORE_SECTIONS = ("generated_at", "profile", "addresses", "sessions")
_sections: dict[str, Section] = {}


def _qualified_name(fn: Section) -> str:
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"


def register_section(name: str, fn: Section) -> None:
    """Add a section to every export. Re-registering the same function is a no-op."""
    if name in CORE_SECTIONS:
        raise ValueError(f"export section {name!r} is reserved for accounts")
    existing = _sections.get(name)
    if existing is not None and _qualified_name(existing) != _qualified_name(fn):
        raise ValueError(f"export section {name!r} is already registered by {existing!r}")
    _sections[name] = fn


def register_personal_data(name: str, *, export: Section,
                           erase: Callable[..., None]) -> None:
    """A domain keeping personal data of accounts: `export` is its section of the data export,
    `erase` (fn(*, session, user)) deletes that data when the account is deleted."""
    register_section(name, export)
    if erase not in services.on_account_deleted:
        services.on_account_deleted.append(erase)


def registered_sections() -> tuple[str, ...]:
    return tuple(_sections)


def build_export(*, session: Session, user: User) -> dict[str, Any]:
    """Everything the shop holds about a user, core sections first (as model objects for the
    schema to dump), then the other domains' sections in registration order."""
    data: dict[str, Any] = {
        "generated_at": utcnow(),
        "profile": user,
        "addresses": addresses.list_addresses(session=session, user=user),
        "sessions": services.list_sessions(session=session, user=user),
    }
    for name, fn in _sections.items():
        data[name] = fn(session=session, user=user)
    return data
