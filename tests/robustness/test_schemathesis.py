"""Schemathesis over the whole OpenAPI document, in process against the WSGI app.

Every operation is one test (so `-n 2` spreads them), each generating a bounded, derandomised
set of valid and invalid requests, signed in with the role the operation declares (customer
or admin bearer tokens), inside the per-test rolled-back transaction. Each response must:
- not be a 5xx (not_a_server_error);
- use a documented status code: the document gives every operation a `default` problem
  response, which would let any status pass schemathesis' own check, so `documented_status`
  below requires the code itself to be listed, apart from the few the platform may send
  anywhere (PLATFORM_STATUSES);
- have a documented content type and match the documented schema for its status.

A second test chains calls (schemathesis' stateful phase, links inferred from the schemas)
on a committed, freshly seeded shop per sequence, under the same checks.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shop import create_app
from shop.extensions import db
from tests.conftest import seed_catalogue
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.database import wipe_all_tables

# Sent by the HTTP layer before any view runs, on any operation: body too large, a body
# that is not JSON (media type), a rate limit, the database unreachable. The `default`
# problem response documents them.
PLATFORM_STATUSES = {413, 415, 429, 503}


def _document() -> dict:
    """The document as the app serves it (built once per test process, at collection)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True,
                      "CATALOGUE_RESPONSE_CACHE_SECONDS": 0})
    return app.test_client().get("/api/v1/openapi.json").json


CONFIG = schemathesis.Config.from_dict({
    "seed": 20261125,
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},  # boundary values, missing fields, wrong methods
        "fuzzing": {"enabled": True},
        # links inferred from the schemas (test below); valid requests, so chains go deep
        "stateful": {"enabled": True, "generation": {"mode": "positive"}},
    },
    "generation": {
        "mode": "all",  # valid and invalid requests
        "max-examples": 8,
        "deterministic": True,
        "database": "none",
        "with-security-parameters": False,  # the test signs in itself
    },
})
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)  # every operation


@schemathesis.check
def documented_status(ctx, response, case) -> None:
    """The status code is listed for the operation (or is one the platform sends anywhere)."""
    documented = {code for code in case.operation.responses.status_codes if code != "default"}
    status = response.status_code
    if status in PLATFORM_STATUSES or str(status) in documented:
        return None
    method = case.method.upper()
    other_method = method != case.operation.method.upper()  # (the coverage phase tries them)
    if other_method and (status == 405 or (method in ("OPTIONS", "HEAD") and status < 300)):
        return None
    raise AssertionError(
        f"{case.operation.label} answered {status}, which it does not document "
        f"(documented: {', '.join(sorted(documented))}): "
        f"{response.content[:300]!r}"
    )


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, documented_status]
CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def access_levels(app) -> dict[tuple[str, str], str]:
    """(METHOD, OpenAPI path) → the access level its view declares."""
    levels = {}
    for rule in app.url_map.iter_rules():
        path = CONVERTER.sub(r"{\1}", rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in rule.methods or ():
            levels[(method, path)] = getattr(view, "access_level", "public")
    return levels


@pytest.fixture(scope="module")
def levels(app):
    return access_levels(app)


@pytest.fixture
def signed_in(db_session):
    """Bearer headers per access level: customers for customer (and optional) operations,
    an admin for staff and admin ones."""
    customer = bearer_for(db_session, make_user(db_session, role="customer"))
    admin = bearer_for(db_session, make_user(db_session, role="admin"))
    return {"customer": customer, "optional": customer, "staff": admin, "admin": admin}


def isolated(app):
    """The WSGI app with a fresh app context (so a fresh session and `g`) per request, as in
    production; the sessions share the test's rolled-back connection."""
    def wsgi(environ, start_response):
        with app.app_context():
            return list(app(environ, start_response))
    return wsgi


@schema.parametrize()
@settings(deadline=5000, suppress_health_check=list(HealthCheck))
def test_operation_conforms_to_the_document(case, app, db_session, levels, signed_in):
    level = levels.get((case.operation.method.upper(), case.operation.path), "public")
    response = case.call(app=isolated(app), headers=signed_in.get(level, {}))
    case.validate_response(response, checks=CHECKS)


# Sequences of calls: schemathesis links operations by what one answers and another takes
# (a cart's id, a category's slug, a staff member's id) and chains them from a freshly
# seeded shop, committed for real (each example starts from the wiped and reseeded database).
STATEFUL = settings(max_examples=25, stateful_step_count=6, derandomize=True, database=None,
                    deadline=None, suppress_health_check=list(HealthCheck))


def test_call_sequences_conform_to_the_document(app, committed, levels):
    wsgi, headers, answered = isolated(app), {}, []

    class Sequences(schema.as_state_machine()):
        def setup(self):
            with app.app_context():
                db.session.remove()
                wipe_all_tables(db.engine)
            seed_catalogue(app)
            with app.app_context():
                customer = bearer_for(db.session, make_user(db.session, role="customer"))
                admin = bearer_for(db.session, make_user(db.session, role="admin"))
                db.session.commit()
                db.session.remove()
            headers.update(customer=customer, optional=customer, staff=admin, admin=admin)

        def get_call_kwargs(self, case):
            level = levels.get((case.method.upper(), case.path), "public")
            return {"app": wsgi, "headers": headers.get(level, {})}

        def validate_response(self, response, case, **kwargs):
            answered.append((case.path, response.status_code))
            case.validate_response(response, checks=CHECKS)

    Sequences.run(settings=STATEFUL)
    # the links led somewhere: some call on a path with parameters found its resource
    assert any("{" in path and status < 300 for path, status in answered)
