"""Staff and admin users whose identity the audit assertions need."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import g
from flask.testing import FlaskClient

from shop.accounts.models import User
from shop.extensions import db
from tests.fixtures.auth import bearer_for, make_user


class FreshRequestClient(FlaskClient):
    """Request boundaries as a server has them, inside the one app context (and session) the
    db_session fixture keeps for the whole test: what the test set up is committed before the
    request (to a savepoint the test's rollback still undoes), `g` starts empty (auth caches
    the signed-in user there), and what the request left uncommitted - say after a 503 - is
    rolled back, as the app's teardown does."""

    def open(self, *args, **kwargs):
        db.session.commit()
        g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            db.session.rollback()


@pytest.fixture
def client(app, db_session):
    return FreshRequestClient(app, app.response_class, use_cookies=True)


@dataclass
class Signed:
    user: User
    headers: dict[str, str]


@pytest.fixture
def staff(db_session) -> Signed:
    user = make_user(db_session, role="staff", name="Sam Staff")
    return Signed(user, bearer_for(db_session, user))


@pytest.fixture
def admin(db_session) -> Signed:
    user = make_user(db_session, role="admin", name="Ada Admin")
    return Signed(user, bearer_for(db_session, user))
