"""One-click unsubscribe (RFC 8058): the mail provider POSTs List-Unsubscribe=One-Click as a
form to the URL in a marketing email's List-Unsubscribe header. The reminder sent by SMTP and
unsubscribed from is in tests/carts/test_reminders.py."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from shop.accounts import marketing
from shop.carts import reminders
from shop.db import utcnow
from shop.notifications import services as notifications
from shop.notifications.models import OutboxEmail
from tests.accounts.test_api import assert_problem
from tests.accounts.test_ratelimits import assert_rate_limited
from tests.fixtures.auth import make_user

PATH = "/api/v1/auth/unsubscribe/one-click"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def subscriber(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_API_URL", "https://api.clinic.example")
    user = make_user(db_session, name="Ada")
    user.marketing_consent, user.marketing_consent_at = True, utcnow()
    db_session.flush()
    return user


def one_click_url(user) -> str:
    """The path and query of the account's List-Unsubscribe URL."""
    url = marketing.list_unsubscribe_headers(user)["List-Unsubscribe"].strip("<>")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def consents(session, user) -> bool:
    session.expire_all()
    return session.get(type(user), user.id).marketing_consent


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded",
                                          "multipart/form-data"])
def test_the_form_body_unsubscribes_and_drops_queued_marketing(client, db_session, subscriber,
                                                               content_type):
    """Gmail sends the form urlencoded, RFC 8058 asks for multipart: both work."""
    notifications.enqueue_email(session=db_session, to=subscriber.email, subject="Your cart",
                                text="...", dedupe_key=f"{reminders.DEDUPE_PREFIX}queued")
    url = one_click_url(subscriber)
    db_session.commit()
    for _ in range(2):  # pressed twice, or retried by the provider: still 200
        response = client.post(url, data=ONE_CLICK, content_type=content_type)
        assert response.status_code == 200 and response.json == {"marketing_consent": False}
    assert consents(db_session, subscriber) is False
    assert db_session.scalars(select(OutboxEmail).where(
        OutboxEmail.to == subscriber.email)).all() == []


@pytest.mark.parametrize("body", [{"List-Unsubscribe": "Yes"}, {"List-Unsubscribe": ""},
                                  {"unsubscribe": "One-Click"}, {}])
def test_a_body_other_than_one_click_is_400_and_changes_nothing(client, db_session, subscriber,
                                                                body):
    url = one_click_url(subscriber)
    errors = assert_problem(client.post(url, data=body), 400, "bad_request")["errors"]
    assert list(errors) == ["List-Unsubscribe"]
    assert consents(db_session, subscriber) is True


def test_a_json_body_is_not_the_one_click_form(client, db_session, subscriber):
    assert_problem(client.post(one_click_url(subscriber), json=ONE_CLICK), 400, "bad_request")
    assert consents(db_session, subscriber) is True


def test_a_bad_token_is_refused_as_by_post_unsubscribe(client, db_session, subscriber):
    url = one_click_url(subscriber)
    assert_problem(client.post(url + "x", data=ONE_CLICK), 400, "invalid_unsubscribe_token")
    assert_problem(client.post(PATH, data=ONE_CLICK), 422, "validation_error")
    assert_problem(client.post(url + "&more=1", data=ONE_CLICK), 422, "validation_error")
    subscriber.email = "moved@example.com"  # the token names the address it was mailed to
    db_session.commit()
    assert_problem(client.post(url, data=ONE_CLICK), 400, "invalid_unsubscribe_token")
    assert consents(db_session, subscriber) is True


def test_other_body_types_are_still_415(client, subscriber):
    assert_problem(client.post(one_click_url(subscriber), data="List-Unsubscribe=One-Click",
                               content_type="text/plain"), 415, "unsupported_media_type")


@pytest.mark.parametrize("path", ["/api/v1/auth/unsubscribe", "/api/v1/auth/token",
                                  "/api/v1/auth/password-reset"])
def test_form_bodies_are_still_415_everywhere_else(client, path):
    assert_problem(client.post(path, data={"token": "x", "email": "a@example.com"}), 415,
                   "unsupported_media_type")


def test_one_click_has_a_rate_limit_of_its_own(limited_app):
    client = limited_app(ONE_CLICK_UNSUBSCRIBE_RATE_LIMIT="2 per minute").test_client()
    for _ in range(2):
        assert_problem(client.post(f"{PATH}?token=forged", data=ONE_CLICK), 400,
                       "invalid_unsubscribe_token")
    assert_rate_limited(client.post(f"{PATH}?token=forged", data=ONE_CLICK))


def test_without_public_api_url_no_header_is_offered(app, subscriber, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_API_URL", "")
    assert marketing.list_unsubscribe_headers(subscriber) == {}


def test_the_document_shows_the_form_body(client):
    operation = client.get("/api/v1/openapi.json").json["paths"][PATH]["post"]
    assert list(operation["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
    assert [p["name"] for p in operation["parameters"]] == ["token"]
    assert {"200", "400", "422", "429"} <= set(operation["responses"])


def test_opened_in_a_browser_it_goes_to_the_unsubscribe_page_and_changes_nothing(
        client, app, db_session, subscriber, monkeypatch):
    monkeypatch.setitem(app.config, "MARKETING_UNSUBSCRIBE_URL",
                        "https://glow.example/unsubscribe")
    url = one_click_url(subscriber)
    response = client.get(url)
    assert response.status_code == 303
    token = url.split("token=", 1)[1]
    assert response.headers["Location"] == f"https://glow.example/unsubscribe?token={token}"
    db_session.refresh(subscriber)
    assert subscriber.marketing_consent is True  # a GET (a link checker too) never unsubscribes
    monkeypatch.setitem(app.config, "MARKETING_UNSUBSCRIBE_URL", "")
    assert_problem(client.get(url), 404, "no_unsubscribe_page")
