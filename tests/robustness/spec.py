"""Walk the shop's own OpenAPI document: every operation, its parameters, and a request
that reaches its view (a path built from dummy values, a bearer token when it needs one)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

METHODS = ("get", "post", "put", "patch", "delete")
DUMMY = {"integer": "1", "number": "1", "boolean": "true"}


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str  # templated: /api/v1/products/{slug}
    parameters: tuple[dict, ...]
    request_types: tuple[str, ...]  # media types of its documented body
    secured: bool  # needs a bearer token (or accepts one)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def text_parameters(self, location: str) -> list[dict]:
        """The parameters in `location` that take free text (strings, or no declared type)."""
        return [p for p in self.parameters if p["in"] == location
                and p.get("schema", {}).get("type", "string") == "string"]

    def url(self, **overrides: str) -> str:
        """The path with every parameter filled: `overrides` are used as given (already
        percent-encoded), others get a harmless value of their type."""
        path = self.path
        for parameter in self.parameters:
            if parameter["in"] != "path":
                continue
            name = parameter["name"]
            value = overrides.get(name) or _dummy(parameter["schema"])
            path = path.replace("{" + name + "}", value)
        return path


def _dummy(schema: dict) -> str:
    if schema.get("enum"):
        return quote(str(schema["enum"][0]), safe="")
    return DUMMY.get(schema.get("type", "string"), "x")


def operations(document: dict) -> Iterator[Operation]:
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {})
            yield Operation(
                method=method.upper(), path=path,
                parameters=tuple(shared + operation.get("parameters", [])),
                request_types=tuple(body), secured=bool(operation.get("security")),
            )
