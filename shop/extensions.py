"""Extension objects, bound to the app in create_app()."""

from flask_cors import CORS
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from shop.api import ShopApi
from shop.db import Base
from shop.ratelimits import ShopLimiter

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = ShopApi()
cors = CORS()
limiter = ShopLimiter(key_func=get_remote_address, headers_enabled=True)
