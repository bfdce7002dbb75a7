"""Swagger UI's assets served from the flask-swagger-ui package: the docs work offline."""

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint

ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"

bp = Blueprint(
    "docs_assets", __name__, static_folder=str(ASSETS), static_url_path="/api/v1/docs-assets"
)
