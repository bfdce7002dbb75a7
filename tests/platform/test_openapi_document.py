"""The OpenAPI document's own contract: operation ids and links (what client generators and
the app's developers follow from one call to the next, and the stateful schemathesis test
chains), and the error responses every JSON body can meet."""

from __future__ import annotations

import pytest

from shop import create_app

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> dict:
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True})
    return app.test_client().get("/api/v1/openapi.json").json


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def links(document: dict):
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            for name, link in response.get("links", {}).items():
                yield f"{method.upper()} {path} {status} {name}", path, response, link


def path_parameters(path: str) -> set[str]:
    return {segment.strip("{}") for segment in path.split("/") if segment.startswith("{")}


def resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def pointer_exists(document: dict, schema: dict, pointer: str) -> bool:
    """Does the JSON pointer name a property the schema documents?"""
    for token in [part for part in pointer.split("/") if part]:
        schema = resolve(document, schema)
        if schema.get("type") == "array":
            if not token.isdigit():
                return False
            schema = schema["items"]
            continue
        if token not in schema.get("properties", {}):
            return False
        schema = schema["properties"][token]
    return True


def test_every_operation_has_a_unique_operation_id(document):
    ids = [operation.get("operationId") for _, _, operation in operations(document)]
    assert None not in ids
    assert len(ids) == len(set(ids))
    by_id = {operation["operationId"]: (method, path)
             for path, method, operation in operations(document)}
    assert by_id["carts_add_item"] == ("post", "/api/v1/carts/{cart_id}/items")
    assert by_id["checkout_checkout"] == ("post", "/api/v1/carts/{cart_id}/checkout")


def test_the_main_flows_are_linked(document):
    named = {label for label, *_ in links(document)}
    for label in ("POST /api/v1/carts 201 AddItem", "POST /api/v1/carts 200 AddItem",
                  "POST /api/v1/carts/{cart_id}/items 201 Checkout",
                  "POST /api/v1/carts/{cart_id}/checkout 201 GetOrder",
                  "POST /api/v1/admin/products 201 CreateVariant"):
        assert label in named


def test_every_link_fills_real_parameters_from_documented_values(document):
    by_id = {operation["operationId"]: (path, operation)
             for path, _, operation in operations(document)}
    for label, source_path, response, link in links(document):
        assert link["operationId"] in by_id, label
        target_path, target = by_id[link["operationId"]]
        takes = path_parameters(target_path) | {p["name"] for p in target.get("parameters", [])}
        body = response["content"]["application/json"]["schema"]
        for parameter, expression in link["parameters"].items():
            assert parameter in takes, f"{label}: {link['operationId']} takes no {parameter}"
            source, _, detail = expression.partition("#")
            if source == "$response.body":
                assert pointer_exists(document, body, detail), f"{label}: {expression}"
            else:
                assert source.removeprefix("$request.path.") in path_parameters(source_path), \
                    f"{label}: {expression}"


def test_every_json_body_documents_the_400_for_a_body_that_is_not_json(document):
    for path, method, operation in operations(document):
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            assert "400" in operation["responses"], f"{method.upper()} {path}"
