"""Where am I signed in: GET /me/sessions lists the sign-ins that still work, named by the
app's device_name or the User-Agent, and DELETE /me/sessions/{id} signs one out at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shop.accounts.models import AuthToken, TokenFamily
from shop.db import utcnow
from tests.accounts.test_api import PASSWORD, assert_problem, bearer, register

SESSIONS = "/api/v1/me/sessions"


def sign_in(client, device_name=None, user_agent=None, email="ann@example.com"):
    body = {"email": email, "password": PASSWORD}
    if device_name is not None:
        body["device_name"] = device_name
    headers = {"User-Agent": user_agent} if user_agent is not None else {}
    response = client.post("/api/v1/auth/token", json=body, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def sessions(client, tokens) -> list[dict]:
    response = client.get(SESSIONS, headers=bearer(tokens))
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    return response.json["items"]


@pytest.fixture
def ann(client):
    response = client.post("/api/v1/auth/register", headers={"User-Agent": "GlowShop/1.0"},
                           json={"email": "ann@example.com", "password": PASSWORD,
                                 "name": "Ann"})
    assert response.status_code == 201
    return response.json


def test_every_sign_in_is_listed_with_its_device_newest_first(client, ann):
    phone = sign_in(client, device_name="Ann's iPhone", user_agent="GlowShop-iOS/2.3")
    laptop = sign_in(client, user_agent="Mozilla/5.0 (Macintosh) Safari/605.1.15")
    listed = sessions(client, phone)
    assert [s["device"] for s in listed] == [
        "Mozilla/5.0 (Macintosh) Safari/605.1.15", "Ann's iPhone", "GlowShop/1.0"]
    assert [s["current"] for s in listed] == [False, True, False]
    assert set(listed[0]) == {"id", "device", "created_at", "last_refreshed_at", "current"}
    assert [s["current"] for s in sessions(client, laptop)] == [True, False, False]


def test_a_refreshed_session_stays_one_entry_and_shows_when_it_refreshed(client, ann):
    refreshed = client.post("/api/v1/auth/refresh",
                            json={"refresh_token": ann["refresh_token"]}).json
    [listed] = sessions(client, refreshed)
    assert listed["current"] and listed["last_refreshed_at"] is not None


def test_signing_out_another_session_stops_its_tokens_at_once(client, ann):
    other = sign_in(client, device_name="Shared computer")
    other_id = next(s["id"] for s in sessions(client, ann) if not s["current"])
    response = client.delete(f"{SESSIONS}/{other_id}", headers=bearer(ann))
    assert response.status_code == 204
    assert_problem(client.get("/api/v1/me", headers=bearer(other)), 401, "invalid_token")
    assert_problem(client.post("/api/v1/auth/refresh",
                               json={"refresh_token": other["refresh_token"]}),
                   401, "invalid_refresh_token")
    assert [s["device"] for s in sessions(client, ann)] == ["GlowShop/1.0"]
    export = client.get("/api/v1/me/export", headers=bearer(ann)).json
    ended = next(s for s in export["sessions"] if s["id"] == other_id)
    assert (ended["device"], ended["revoked_reason"]) == \
        ("Shared computer", "signed_out_remotely")


def test_signing_out_this_session_works_like_logout(client, ann):
    [current] = sessions(client, ann)
    assert client.delete(f"{SESSIONS}/{current['id']}", headers=bearer(ann)).status_code == 204
    assert client.get(SESSIONS, headers=bearer(ann)).status_code == 401


def family_named(session, device: str) -> int:
    return session.scalar(select(TokenFamily.id).where(TokenFamily.device == device))


def test_ended_sessions_are_not_listed_and_cannot_be_ended_again(client, db_session, ann):
    logged_out = sign_in(client, device_name="Old tablet")
    assert client.post("/api/v1/auth/logout", headers=bearer(logged_out)).status_code == 204
    sign_in(client, device_name="Forgotten laptop")
    db_session.execute(  # its refresh token ran out: the app must sign in again
        update(AuthToken)
        .where(AuthToken.family_id == family_named(db_session, "Forgotten laptop"),
               AuthToken.kind == "refresh")
        .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert [s["device"] for s in sessions(client, ann)] == ["GlowShop/1.0"]
    assert_problem(client.delete(f"{SESSIONS}/{family_named(db_session, 'Old tablet')}",
                                 headers=bearer(ann)), 404, "session_not_found")


def test_another_accounts_session_is_not_found(client, ann):
    bob = register(client, email="bob@example.com", name="Bob").json
    [bobs] = sessions(client, bob)
    assert_problem(client.delete(f"{SESSIONS}/{bobs['id']}", headers=bearer(ann)),
                   404, "session_not_found")
    assert client.get("/api/v1/me", headers=bearer(bob)).status_code == 200
    assert_problem(client.delete(f"{SESSIONS}/999999", headers=bearer(ann)),
                   404, "session_not_found")


def test_signed_out_callers_get_401(client):
    assert_problem(client.get(SESSIONS), 401, "authentication_required")
    assert_problem(client.delete(f"{SESSIONS}/1"), 401, "authentication_required")


def test_the_user_agent_is_kept_printable_and_short(client, ann):
    sign_in(client, user_agent="Evil\x1b[31mAgent/" + "x" * 300)
    [newest, _] = sessions(client, ann)
    assert newest["device"].startswith("Evil[31mAgent/") and len(newest["device"]) == 200
    sign_in(client, user_agent="")
    assert sessions(client, ann)[0]["device"] is None


@pytest.mark.parametrize("device_name", ["", "   ", "x" * 101, 42])
def test_a_bad_device_name_is_refused(client, ann, device_name):
    response = client.post("/api/v1/auth/token", json={
        "email": "ann@example.com", "password": PASSWORD, "device_name": device_name})
    body = assert_problem(response, 422, "validation_error")
    assert list(body["errors"]) == ["device_name"]


def test_deleting_the_account_forgets_the_device_names(client, db_session, ann):
    sign_in(client, device_name="Ann's iPhone")
    assert client.delete("/api/v1/me", headers=bearer(ann)).status_code == 204
    devices = db_session.scalars(select(TokenFamily.device)).all()
    assert len(devices) == 2 and set(devices) == {None}
