"""flask-smorest Api, adapted: problem+json errors and strict query parameters."""

from __future__ import annotations

import dataclasses
import http

import marshmallow as ma
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from flask_smorest.utils import prepare_response
from webargs.flaskparser import FlaskParser, is_json_request

from shop.errors import PROBLEM_MIMETYPE, http_exception_to_problem
from shop.http import loads_json


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every error response carries them."""

    type = ma.fields.String(required=True, metadata={"example": "urn:problem:shop:not_found"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    code = ma.fields.String(required=True, metadata={"description": "Stable machine code"})
    errors = ma.fields.Dict(metadata={"description": "Validation messages keyed by field"})


INTEGER_RANGE = (-(2**31), 2**31 - 1)  # PostgreSQL INTEGER: every integer column here


def _out_of_range(value: object, name: str = "") -> list[str]:
    """Top-level names under which an integer lies beyond INTEGER_RANGE."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [name] if not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1] else []
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _out_of_range(item, name or key)]
    if isinstance(value, list | tuple):
        return [found for item in value for found in _out_of_range(item, name)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # Money, loaded
        return [found for field in dataclasses.fields(value)
                for found in _out_of_range(getattr(value, field.name), name or field.name)]
    return []


class StrictParser(FlaskParser):
    """Refuse unknown query parameters instead of ignoring them (a typo is a client bug), and
    integers no column can hold (PostgreSQL would refuse them with an error: a 500)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def _validate_arguments(self, data, validators) -> None:
        fields = sorted(set(_out_of_range(data)))
        if fields:
            low, high = INTEGER_RANGE
            raise ma.ValidationError(
                {field or "_schema": [f"Must be between {low} and {high}."] for field in fields})
        super()._validate_arguments(data, validators)

    def _raw_load_json(self, req):
        """As webargs', parsing with loads_json: every body that is not a document we take
        is the JSON decode error webargs answers 400 for."""
        if not is_json_request(req):
            return ma.missing
        return loads_json(req.get_data(cache=True))


class Blueprint(SmorestBlueprint):
    """Every API blueprint: strict argument parsing, and operation ids."""

    ARGUMENTS_PARSER = StrictParser()

    def _store_endpoint_docs(self, endpoint, obj, parameters, tags, **options):
        """As flask-smorest's, and every operation gets an operationId, `<blueprint>_<view>`:
        client generators name their methods after it, and links (below) point at it."""
        super()._store_endpoint_docs(endpoint, obj, parameters, tags, **options)
        methods = [key for key in self._docs[endpoint] if key.upper() in self.HTTP_METHODS]
        for method in methods:
            suffix = f"_{method}" if len(methods) > 1 else ""
            manual = self._docs[endpoint][method].setdefault("manual_doc", {})
            manual.setdefault("operationId", f"{self.name}_{endpoint}{suffix}")

    @staticmethod
    def links(status: int | tuple[int, ...], parameters: dict[str, str],
              **targets: tuple[str, str]):
        """Document OpenAPI links: the operations (name=(operationId, description)) that take
        values of this response (of each status given), as runtime expressions
        (`{"cart_id": "$response.body#/id"}`)."""
        links = {name: {"operationId": operation_id, "parameters": parameters,
                        "description": description}
                 for name, (operation_id, description) in targets.items()}
        statuses = status if isinstance(status, tuple) else (status,)
        return SmorestBlueprint.doc(responses={code: {"links": links} for code in statuses})

    def arguments(self, schema, *, location="json", **kwargs):
        """As flask-smorest's, and a JSON body also documents the 400 that a body which is
        not JSON at all gets (before validation, which is the 422)."""
        decorate = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return decorate

        def decorator(func):
            wrapper = decorate(func)
            wrapper._apidoc["arguments"]["responses"].setdefault(400, "BAD_REQUEST")
            return wrapper

        return decorator


class ShopApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        return http_exception_to_problem(error)

    def _register_responses(self):
        """Document every error response as application/problem+json."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)
