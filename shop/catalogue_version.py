"""A counter bumped by every catalogue write, so cached catalogue responses know when to go.

One row (id 1). The bump is a single upsert that takes the row lock, so concurrent catalogue
writes queue on it and every committed catalogue write leaves a higher version behind.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Integer, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from shop.db import Base, is_postgresql, utcnow

ROW_ID = 1


class CatalogueVersion(Base):
    __tablename__ = "catalogue_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def current_catalogue_version(session: Session | Connection) -> int:
    """The version the committed catalogue is at (0 before any write)."""
    stmt = select(CatalogueVersion.version).where(CatalogueVersion.id == ROW_ID)
    return session.scalar(stmt) or 0


def bump_catalogue_version(*, session: Session) -> int:
    """Count one more catalogue write; returns the new version."""
    insert = (postgresql if is_postgresql(session) else sqlite).insert(CatalogueVersion)
    stmt = (
        insert.values(id=ROW_ID, version=1, updated_at=utcnow())
        .on_conflict_do_update(
            index_elements=[CatalogueVersion.id],
            set_={"version": CatalogueVersion.version + 1, "updated_at": utcnow()},
        )
        .returning(CatalogueVersion.version)
    )
    version = session.execute(stmt).scalar_one()
    cached = session.identity_map.get(session.identity_key(CatalogueVersion, (ROW_ID,)))
    if cached is not None:
        session.expire(cached)
    return version
