"""Extension objects, bound to the app in create_app()."""

from flask_cors import CORS
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import DBAPIError

from shop.api import ShopApi
from shop.db import Base, only_read
from shop.ratelimits import ShopLimiter


class ShopSQLAlchemy(SQLAlchemy):
    def _teardown_session(self, exc: BaseException | None) -> None:
        """End the request's session even when its connection died after the response was
        made (a database restart, a killed backend): the rollback that closing does would
        raise out of Flask as a bare 500 and leave the broken session registered for a later
        request whose app context reuses the id. Such a connection is invalidated instead.
        A transaction that only read is committed rather than rolled back (only_read)."""
        registry = self.session.registry
        if not registry.has():
            return
        session = registry()
        try:
            if exc is None and only_read(session):
                session.expire_on_commit = False  # objects keep what they loaded, as on close
                session.commit()
            session.close()
        except DBAPIError:
            session.invalidate()
        finally:
            registry.clear()


db = ShopSQLAlchemy(model_class=Base)
migrate = Migrate()
api = ShopApi()
cors = CORS()
limiter = ShopLimiter(key_func=get_remote_address, headers_enabled=True)
