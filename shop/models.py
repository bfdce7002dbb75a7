"""Imports every domain's models so the mapper registry and Alembic see them all."""

from shop.accounts import models as accounts  # noqa: F401
from shop.catalogue import models as catalogue  # noqa: F401
from shop.inventory import models as inventory  # noqa: F401
