"""The catalogue version: one counter, bumped by catalogue writes, safe when the row is gone."""

from __future__ import annotations

from sqlalchemy import delete

from shop.catalogue_version import (
    CatalogueVersion,
    bump_catalogue_version,
    current_catalogue_version,
)


def test_bump_creates_the_row_and_counts_up(db_session):
    db_session.execute(delete(CatalogueVersion))
    assert current_catalogue_version(db_session) == 0
    assert bump_catalogue_version(session=db_session) == 1
    assert bump_catalogue_version(session=db_session) == 2
    assert current_catalogue_version(db_session) == 2
    assert db_session.get(CatalogueVersion, 1).version == 2
