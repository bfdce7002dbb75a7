"""Imports every domain's models so the mapper registry and Alembic see them all."""

from shop import catalogue_version  # noqa: F401
from shop.accounts import models as accounts  # noqa: F401
from shop.admin import models as admin  # noqa: F401
from shop.audit import models as audit  # noqa: F401
from shop.back_in_stock import models as back_in_stock  # noqa: F401
from shop.carts import models as carts  # noqa: F401
from shop.catalogue import models as catalogue  # noqa: F401
from shop.enquiries import models as enquiries  # noqa: F401
from shop.idempotency import models as idempotency  # noqa: F401
from shop.inventory import models as inventory  # noqa: F401
from shop.notifications import models as notifications  # noqa: F401
from shop.orders import models as orders  # noqa: F401
from shop.payments import models as payments  # noqa: F401
from shop.promotions import models as promotions  # noqa: F401
from shop.returns import models as returns  # noqa: F401
from shop.reviews import models as reviews  # noqa: F401
from shop.vouchers import models as vouchers  # noqa: F401
from shop.wishlist import models as wishlist  # noqa: F401
