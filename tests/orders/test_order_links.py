"""The way back to an order from an email: a guest's signed link in the confirmation, and
the look-up that mails it again to whoever placed the order."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import or_, select

from shop import create_app
from shop.notifications.models import OutboxEmail
from shop.orders import links
from shop.orders import services as orders
from tests.carts.factories import make_variant, place_order
from tests.fixtures.auth import make_user

ORDER_URL = "https://glow.example/orders/{order_id}"
LOOKUP = "/api/v1/orders/lookup"


@pytest.fixture(autouse=True)
def order_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "ORDER_URL", ORDER_URL)


def paid_guest_order(session, email: str = "guest@example.com"):
    placed = place_order(session, [(make_variant(session, price=2000), 1)], email=email)
    orders.mark_paid(session=session, order_id=placed.order.id,
                     amount_received=placed.order.amount_due, reference="pi_links")
    return placed.order


def emails_about(session, order, prefix: str) -> list[OutboxEmail]:
    key = f"{prefix}:{order.id}"
    return list(session.scalars(select(OutboxEmail).where(or_(
        OutboxEmail.dedupe_key == key, OutboxEmail.dedupe_key.startswith(f"{key}:")))
        .order_by(OutboxEmail.id)))


def link_in(text: str, order) -> str:
    base = ORDER_URL.format(order_id=order.id)
    return next(word for word in text.split() if word.startswith(base))


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["access_token"][0]


def test_the_confirmation_links_a_guest_back_to_the_order(client, db_session):
    order = paid_guest_order(db_session)
    [confirmation] = emails_about(db_session, order, "order-confirmation")
    token = token_of(link_in(confirmation.text, order))
    assert f'href="{ORDER_URL.format(order_id=order.id)}?access_token=' in confirmation.html
    seen = client.get(f"/api/v1/orders/{order.id}?access_token={token}")
    assert seen.status_code == 200 and seen.json["number"] == order.number
    by_header = client.get(f"/api/v1/orders/{order.id}/returns",
                           headers={"X-Order-Token": token})
    assert by_header.status_code == 200  # returns take the same way in


def test_a_link_opens_its_own_order_only_and_not_when_altered(client, db_session):
    order, other = paid_guest_order(db_session), paid_guest_order(db_session)
    with client.application.app_context():
        token = links.link_token(order)
    assert client.get(f"/api/v1/orders/{other.id}?access_token={token}").status_code == 404
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/api/v1/orders/{order.id}?access_token={altered}").status_code == 404
    signed_elsewhere = create_app({"SECRET_KEY": "another-secret", "TESTING": True})
    with signed_elsewhere.app_context():
        forged = links.link_token(order)
    assert client.get(f"/api/v1/orders/{order.id}?access_token={forged}").status_code == 404


def test_a_link_lapses_after_order_link_days(client, db_session, monkeypatch):
    order = paid_guest_order(db_session)
    days = client.application.config["ORDER_LINK_DAYS"]
    issued_at = int(time.time()) - (days * 86_400 + 60)
    with monkeypatch.context() as patched, client.application.app_context():
        patched.setattr(TimestampSigner, "get_timestamp", lambda self: issued_at)
        stale = links.link_token(order)
    assert client.get(f"/api/v1/orders/{order.id}?access_token={stale}").status_code == 404


def test_an_accounts_order_links_to_the_page_without_a_token(db_session):
    user = make_user(db_session, email="member@example.com")
    placed = place_order(db_session, [(make_variant(db_session, price=2000), 1)], user=user)
    orders.mark_paid(session=db_session, order_id=placed.order.id,
                     amount_received=placed.order.amount_due, reference="pi_member")
    [confirmation] = emails_about(db_session, placed.order, "order-confirmation")
    assert link_in(confirmation.text, placed.order) == ORDER_URL.format(order_id=placed.order.id)


def test_look_up_mails_the_link_to_whoever_placed_the_order(client, db_session):
    order = paid_guest_order(db_session, email="Guest.Buyer@example.com")
    answers = [client.post(LOOKUP, json=body) for body in (
        {"email": "guest.buyer@EXAMPLE.com", "number": f" {order.number.lower()} "},
        {"email": "guest.buyer@example.com", "number": order.number},  # again: one email
        {"email": "someone.else@example.com", "number": order.number},
        {"email": "guest.buyer@example.com", "number": "GLW-99999999"},
    )]
    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.get_data() for answer in answers}) == 1  # nothing tells them apart
    [mailed] = emails_about(db_session, order, "order-link")
    assert mailed.to == "Guest.Buyer@example.com"
    token = token_of(link_in(mailed.text, order))
    assert client.get(f"/api/v1/orders/{order.id}?access_token={token}").status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"number": "GLW-10001"}, "email"),
    ({"email": "not-an-email", "number": "GLW-10001"}, "email"),
    ({"email": "a@example.com", "number": ""}, "number"),
    ({"email": "a@example.com", "number": "X" * 33}, "number"),
])
def test_look_up_validates_its_fields(client, body, field):
    response = client.post(LOOKUP, json=body)
    assert response.status_code == 422 and field in response.json["errors"]


def test_look_up_is_limited_per_address(app_config):
    limited = create_app({**app_config, "RATELIMIT_ENABLED": True,
                          "ORDER_LOOKUP_RATE_LIMIT": "2 per minute"}).test_client()
    body = {"email": "nobody@example.com", "number": "GLW-1"}
    ip = {"REMOTE_ADDR": "203.0.113.9"}
    statuses = [limited.post(LOOKUP, json=body, environ_base=ip).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
