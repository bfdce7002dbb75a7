"""The authorisation matrix: every route in the URL map declares who may call it, and the
declared level is what the route enforces and what the OpenAPI document says.

Nothing here lists the shop's routes: a route added tomorrow is covered tomorrow, and one
added without `@access(...)` fails the suite.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.routing import Rule

from shop import create_app
from shop.accounts.auth import ACCESS_LEVELS, ROLE_RANK
from shop.extensions import db
from tests.fixtures.auth import bearer_for, make_user

# Infrastructure that serves files or the API description, never data. Named one by one.
INFRASTRUCTURE = {
    "static", "docs_assets.static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui",
}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
BEARER = [{"bearerAuth": []}]


def operations(app: Flask) -> Iterator[tuple[Rule, str, object]]:
    """(rule, method, view function) for every routed operation; for class-based views the
    function is the class's method for that HTTP method."""
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
            function = getattr(view_class, method.lower(), None) if view_class else view
            yield rule, method, function


def undeclared(app: Flask) -> list[str]:
    return [
        f"{method} {rule.rule} ({rule.endpoint})"
        for rule, method, function in operations(app)
        if rule.endpoint not in INFRASTRUCTURE
        and getattr(function, "access_level", None) not in ACCESS_LEVELS
    ]


def dummy_value(converter) -> str:
    candidates = ["1", "x", str(uuid.UUID(int=1)), *sorted(getattr(converter, "items", ()))]
    for candidate in candidates:
        if re.fullmatch(converter.regex, candidate):
            return candidate
    raise AssertionError(f"no dummy value for converter {converter!r}")


def dummy_url(rule: Rule) -> str:
    values = {name: dummy_value(converter) for name, converter in rule._converters.items()}
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def role_operations(app: Flask, *levels: str) -> list[tuple[Rule, str, str]]:
    return [
        (rule, method, function.access_level)
        for rule, method, function in operations(app)
        if getattr(function, "access_level", None) in levels
    ]


def call(client, rule: Rule, method: str, headers: dict | None = None):
    kwargs = {"json": {}} if method in BODY_METHODS else {}
    return client.open(dummy_url(rule), method=method, headers=headers or {}, **kwargs)


def test_every_route_declares_an_access_level(app):
    assert undeclared(app) == []


def test_the_allow_list_names_real_endpoints_only(app):
    assert set(app.view_functions) >= INFRASTRUCTURE


def test_a_route_without_a_level_is_caught(app_config):
    probe = create_app(app_config)

    @probe.route("/api/v1/_forgotten", methods=["GET", "POST"])
    def forgotten():
        return {}

    try:
        assert undeclared(probe) == [
            "GET /api/v1/_forgotten (forgotten)", "POST /api/v1/_forgotten (forgotten)"
        ]
    finally:
        with probe.app_context():
            db.engine.dispose()


def test_role_routes_refuse_anonymous_callers(app, client):
    failures = []
    for rule, method, level in role_operations(app, *ROLE_RANK):
        response = call(client, rule, method)
        if response.status_code != 401 or response.json.get("code") != "authentication_required":
            failures.append(f"{method} {rule.rule} [{level}] -> {response.status_code}")
    assert failures == []


def test_routes_refuse_a_tampered_token(app, client, db_session):
    headers = bearer_for(db_session, make_user(db_session, role="admin"))
    headers["Authorization"] += "tampered"
    failures = []
    for rule, method, level in role_operations(app, "optional", *ROLE_RANK):
        response = call(client, rule, method, headers)
        if response.status_code != 401 or response.json.get("code") != "invalid_token":
            failures.append(f"{method} {rule.rule} [{level}] -> {response.status_code}")
    assert failures == []


@pytest.mark.parametrize("role", list(ROLE_RANK))
def test_each_role_gets_exactly_its_routes(app, client, db_session, role):
    """Below the declared level: 403. At or above it: through the door (any other status;
    dummy ids and an empty body make most of them 404 or 422)."""
    failures = []
    for rule, method, level in role_operations(app, *ROLE_RANK):
        # A fresh user per call: some routes (DELETE /me, logout) end the caller's session.
        headers = bearer_for(db_session, make_user(db_session, role=role))
        try:
            response = call(client, rule, method, headers)
        except Exception as exc:  # a crash is a finding too; report it with the route
            failures.append(f"{method} {rule.rule} [{level}] as {role} raised {exc!r}")
            continue
        allowed = ROLE_RANK[role] >= ROLE_RANK[level]
        if allowed and response.status_code in (401, 403):
            failures.append(f"{method} {rule.rule} [{level}] as {role} -> "
                            f"{response.status_code} (should be let through)")
        if not allowed and (response.status_code != 403
                            or response.json.get("code") != "insufficient_role"):
            failures.append(f"{method} {rule.rule} [{level}] as {role} -> "
                            f"{response.status_code} (should be 403)")
    assert failures == []


def openapi_path(rule: Rule) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def test_openapi_security_matches_each_declared_level(app_config):
    # A fresh app, so that its URL map and the (shared) Api's document describe the same app.
    fresh = create_app(app_config)
    try:
        paths = fresh.test_client().get("/api/v1/openapi.json").json["paths"]
        documented, failures = 0, []
        for rule, method, function in operations(fresh):
            operation = paths.get(openapi_path(rule), {}).get(method.lower())
            if operation is None:
                continue
            documented += 1
            level = function.access_level
            expected = BEARER if level in ROLE_RANK else [{}, *BEARER] if level == "optional" \
                else None
            if operation.get("security") != expected:
                failures.append(f"{method} {rule.rule} [{level}]: {operation.get('security')}")
            errors = {"customer": {"401"}, "optional": {"401"}, "staff": {"401", "403"},
                      "admin": {"401", "403"}}.get(level, set())
            if not errors <= set(operation["responses"]):
                failures.append(f"{method} {rule.rule} [{level}] does not document {errors}")
        assert documented > 20
        assert failures == []
    finally:
        with fresh.app_context():
            db.engine.dispose()
