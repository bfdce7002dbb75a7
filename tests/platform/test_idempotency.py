"""Idempotency-Key: a retried POST replays the first response instead of acting twice."""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import timedelta

import marshmallow as ma
import pytest
from flask import Flask, request
from sqlalchemy import delete, func, select, update
from werkzeug.exceptions import TooManyRequests

from shop import OPENAPI_SETTINGS, create_app
from shop.accounts.auth import access
from shop.api import Blueprint, ShopApi
from shop.db import utcnow
from shop.errors import Conflict, ServiceUnavailable
from shop.extensions import db
from shop.idempotency import idempotent
from shop.idempotency.models import IdempotencyKey
from shop.notifications import services as notifications
from shop.notifications.models import OutboxEmail
from shop.worker import run_job
from tests.fixtures.auth import bearer_for, make_user

PATH = "/_test/things"


class Probe:
    """A second app on the test database with one idempotent view that counts its calls."""

    def __init__(self, app_config: dict) -> None:
        self.app = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False})
        self.reset()

        @self.app.route(PATH, methods=["POST"])
        @self.app.route(f"{PATH}/<path:name>", methods=["POST"])
        @access("optional")
        @idempotent
        def create_thing(name: str = ""):
            self.calls += 1
            payload = request.get_json(silent=True) or {}
            if payload.get("wait"):
                self.entered.set()
                assert self.release.wait(10)
            outcome = payload.get("outcome")
            if outcome == "crash":
                raise RuntimeError("view bug")
            if outcome == "rate_limited":
                raise TooManyRequests()
            if outcome == "unavailable":
                raise ServiceUnavailable("Stripe is down.", code="payment_provider_unavailable")
            if outcome == "sold_out":
                notifications.enqueue_email(
                    session=db.session, to="x@example.com", subject="partial", text="x",
                    dedupe_key=f"partial:{payload['token']}",
                )
                raise Conflict("Sold out.", code="insufficient_stock")
            return {"n": self.calls, "echo": payload}, 201, {"Location": f"/things/{self.calls}"}

    def reset(self) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def post(
        self, key: str | None = None, json=None, headers: dict | None = None, path: str = PATH,
        **kwargs,
    ):
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["Idempotency-Key"] = key
        return self.app.test_client().post(path, json=json, headers=all_headers, **kwargs)


@pytest.fixture(scope="module")
def probe_app(app, app_config):
    return Probe(app_config)


@pytest.fixture
def probe(probe_app):
    """The probe with fresh counters. The decorator commits for real; the keys it stored
    (the only rows these tests write) are deleted afterwards."""
    probe_app.reset()
    yield probe_app
    with probe_app.app.app_context():
        db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.path.startswith(PATH)))
        db.session.commit()


def new_key() -> str:
    return str(uuid.uuid4())


def stored_keys(app, key: str) -> list[IdempotencyKey]:
    with app.app_context():
        return db.session.scalars(select(IdempotencyKey).where(IdempotencyKey.key == key)).all()


def test_without_a_key_the_view_simply_runs(probe):
    assert probe.post(json={"a": 1}).json["n"] == 1
    assert probe.post(json={"a": 1}).json["n"] == 2


def test_a_retry_replays_the_first_response_and_the_view_runs_once(probe):
    key = new_key()
    first = probe.post(key, json={"sku": "SER-1", "quantity": 2})
    again = probe.post(key, json={"sku": "SER-1", "quantity": 2})

    assert first.status_code == again.status_code == 201
    assert again.json == first.json == {"n": 1, "echo": {"sku": "SER-1", "quantity": 2}}
    assert again.headers["Location"] == first.headers["Location"] == "/things/1"
    assert again.headers["Content-Type"] == "application/json"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    assert probe.calls == 1
    [row] = stored_keys(probe.app, key)
    assert (row.status, row.scope, row.method) == ("completed", "anon", "POST")
    assert row.path == f"{PATH}#{hashlib.sha256(PATH.encode()).hexdigest()}"


def test_the_same_json_in_another_key_order_is_the_same_request(probe):
    key = new_key()
    probe.post(key, data='{"a": 1, "b": [1, 2]}', content_type="application/json")
    again = probe.post(key, data='{"b":[1,2],"a":1}', content_type="application/json")

    assert again.headers["Idempotent-Replayed"] == "true" and probe.calls == 1


def test_the_same_key_with_a_different_body_is_422(probe):
    key = new_key()
    probe.post(key, json={"quantity": 1})
    response = probe.post(key, json={"quantity": 5})

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "idempotency_key_mismatch"
    assert probe.calls == 1


def test_keys_belong_to_one_user(probe, app, committed):
    with app.app_context():
        user = make_user(db.session)
        headers = bearer_for(db.session, user)
        db.session.commit()
        user_id = user.id
    key = new_key()

    as_guest = probe.post(key, json={})
    as_user = probe.post(key, json={}, headers=headers)
    again_as_user = probe.post(key, json={}, headers=headers)

    assert (as_guest.json["n"], as_user.json["n"], again_as_user.json["n"]) == (1, 2, 2)
    assert sorted(row.scope for row in stored_keys(probe.app, key)) == sorted(
        ["anon", str(user_id)]
    )


@pytest.mark.parametrize("key", ["", "x" * 256, "two words", "tab\tkey", "caf\u00e9"])
def test_a_malformed_key_is_400(probe, key):
    response = probe.post(key, json={})

    assert response.status_code == 400
    assert response.json["code"] == "invalid_idempotency_key"
    assert probe.calls == 0


def test_the_longest_allowed_key_works(probe):
    key = "k" * 255
    probe.post(key, json={})
    assert probe.post(key, json={}).headers["Idempotent-Replayed"] == "true"


def test_paths_are_stored_as_route_and_hash_never_in_clear(probe):
    key, secret_path = new_key(), f"{PATH}/ABCD-EFGH-JKMN-PQRS"
    probe.post(key, json={}, path=secret_path)
    [row] = stored_keys(probe.app, key)
    assert "ABCD" not in row.path and row.path.startswith(f"{PATH}/<path:name>#")


def test_a_very_long_path_is_stored_hashed_and_still_replays(probe):
    key, long_path = new_key(), f"{PATH}/{'x' * 1000}"
    probe.post(key, json={}, path=long_path)
    again = probe.post(key, json={}, path=long_path)
    other = probe.post(key, json={}, path=f"{PATH}/{'x' * 999}y")

    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in other.headers and probe.calls == 2
    assert all(len(row.path) < 512 for row in stored_keys(probe.app, key))


@pytest.mark.parametrize(("outcome", "status"), [
    ("crash", 500), ("unavailable", 503), ("rate_limited", 429),
])
def test_a_server_error_or_429_is_not_stored_so_a_retry_runs_again(probe, outcome, status):
    key = new_key()
    first = probe.post(key, json={"outcome": outcome})
    again = probe.post(key, json={"outcome": outcome})

    assert first.status_code == again.status_code == status
    assert "Idempotent-Replayed" not in again.headers
    assert probe.calls == 2
    assert stored_keys(probe.app, key) == []


def test_a_client_error_is_stored_and_the_views_writes_are_rolled_back(probe):
    key, token = new_key(), uuid.uuid4().hex
    first = probe.post(key, json={"outcome": "sold_out", "token": token})
    again = probe.post(key, json={"outcome": "sold_out", "token": token})

    assert first.status_code == again.status_code == 409
    assert again.json == first.json and again.json["code"] == "insufficient_stock"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content_type == "application/problem+json"
    assert probe.calls == 1
    with probe.app.app_context():
        partial = db.session.scalar(
            select(func.count()).select_from(OutboxEmail)
            .where(OutboxEmail.dedupe_key == f"partial:{token}")
        )
    assert partial == 0


def test_an_expired_key_is_absent_and_purged_by_the_worker(probe):
    key = new_key()
    probe.post(key, json={})
    with probe.app.app_context():
        db.session.execute(
            update(IdempotencyKey).where(IdempotencyKey.key == key)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()

    again = probe.post(key, json={})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert probe.calls == 2

    [row] = stored_keys(probe.app, key)
    assert run_job(probe.app, "purge_idempotency_keys", row.expires_at + timedelta(seconds=1)) >= 1
    assert stored_keys(probe.app, key) == []


def test_keys_live_for_the_configured_ttl(probe):
    key = new_key()
    before = utcnow()
    probe.post(key, json={})
    [row] = stored_keys(probe.app, key)
    ttl = timedelta(seconds=probe.app.config["IDEMPOTENCY_KEY_TTL_SECONDS"])
    assert ttl == timedelta(hours=24)
    assert before + ttl <= row.expires_at.replace(tzinfo=before.tzinfo) <= utcnow() + ttl


def test_a_concurrent_duplicate_gets_409_while_the_first_is_in_flight(probe):
    key = new_key()
    body = {"wait": True}
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", probe.post(key, json=body)))
    first.start()
    try:
        assert probe.entered.wait(10)
        duplicate = probe.post(key, json=body)
    finally:
        probe.release.set()
        first.join(10)

    assert duplicate.status_code == 409
    assert duplicate.json["code"] == "idempotency_key_in_use"
    assert results["first"].status_code == 201
    replay = probe.post(key, json=body)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json == results["first"].json
    assert probe.calls == 1


class ThingSchema(ma.Schema):
    name = ma.fields.String(required=True)


class ThingQuerySchema(ma.Schema):
    dry_run = ma.fields.Boolean()


def test_the_header_and_its_errors_are_documented_in_openapi():
    doc_app = Flask("idempotency-doc")
    doc_app.config.update(OPENAPI_SETTINGS)
    doc_api = ShopApi(doc_app)
    blp = Blueprint("things", __name__, url_prefix="/api/v1")

    @blp.route("/things", methods=["POST"])
    @access("customer")
    @idempotent
    @blp.arguments(ThingQuerySchema, location="query")
    @blp.arguments(ThingSchema)
    @blp.response(201, ThingSchema)
    @blp.alt_response(409, description="Sold out (`insufficient_stock`)")
    def create_thing(query, payload):
        """Create a thing."""
        return payload

    doc_api.register_blueprint(blp)
    operation = doc_api.spec.to_dict()["paths"]["/api/v1/things"]["post"]

    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["Idempotency-Key"]["in"] == "header"
    assert parameters["Idempotency-Key"]["required"] is False
    assert parameters["Idempotency-Key"]["schema"]["maxLength"] == 255
    assert parameters["dry_run"]["in"] == "query"  # the view's own parameters are kept
    assert {"201", "400", "409", "422"} <= set(map(str, operation["responses"]))
    conflict = operation["responses"]["409"]["description"]
    assert "insufficient_stock" in conflict and "idempotency_key_in_use" in conflict
    assert "idempotency_key_mismatch" in operation["responses"]["422"]["description"]
    assert "invalid_idempotency_key" in operation["responses"]["400"]["description"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert operation["summary"] == "Create a thing."
