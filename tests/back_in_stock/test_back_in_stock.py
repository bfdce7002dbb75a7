"""POST /back-in-stock and the worker's back_in_stock jobs: one email per request when the
variant is on sale and in stock again; asking again re-arms it; the data goes with the
account and is purged a month after the email."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.back_in_stock.jobs import purge_back_in_stock, send_back_in_stock
from shop.back_in_stock.models import BackInStockRequest
from shop.db import utcnow
from shop.extensions import db
from shop.inventory import services as inventory
from shop.notifications.models import OutboxEmail
from tests.accounts.test_api import assert_problem
from tests.carts.factories import make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user

URL = "/api/v1/back-in-stock"


def ask(client, sku, email="ann@example.com", headers=None):
    return client.post(URL, json={"sku": sku, "email": email}, headers=headers or {})


def requests_for(session, variant) -> list[BackInStockRequest]:
    session.expire_all()
    return list(session.scalars(select(BackInStockRequest)
                                .where(BackInStockRequest.variant_id == variant.id)))


def emails_to(session, address: str) -> list[OutboxEmail]:
    return list(session.scalars(select(OutboxEmail).where(OutboxEmail.to == address)
                                .order_by(OutboxEmail.id)))


def restock(session, variant, quantity=3) -> None:
    inventory.record_movement(session=session, variant_id=variant.id, quantity=quantity,
                              reason="received")


def run(session, now=None) -> int:
    session.expire_all()
    sent = send_back_in_stock(session=session, now=now or utcnow())
    session.flush()
    return sent


@pytest.fixture
def sold_out(db_session):
    return make_variant(db_session, stock=0, name="MOIST Hyaluronic Acid Serum")


def test_one_email_when_it_is_back_then_nothing_more(client, db_session, sold_out, app,
                                                     monkeypatch):
    monkeypatch.setitem(app.config, "PRODUCT_URL", "https://shop.example/products/{slug}")
    response = ask(client, sold_out.sku, email="Ann@Example.com")
    assert response.status_code == 202, response.json
    assert response.json["sku"] == sold_out.sku
    [waiting] = requests_for(db_session, sold_out)
    assert (waiting.email, waiting.notified_at) == ("ann@example.com", None)
    assert run(db_session) == 0  # still sold out
    restock(db_session, sold_out)
    assert run(db_session) == 1
    [email] = emails_to(db_session, "ann@example.com")
    assert email.subject == "MOIST Hyaluronic Acid Serum is back in stock"
    assert f"https://shop.example/products/{sold_out.product.slug}" in email.text
    assert "(30 ml)" in email.text
    assert requests_for(db_session, sold_out)[0].notified_at is not None
    assert run(db_session) == 0


def test_asking_twice_is_one_request_and_asking_after_the_email_rearms_it(
    client, db_session, sold_out
):
    assert ask(client, sold_out.sku).status_code == 202
    assert ask(client, sold_out.sku, email="ANN@example.com").status_code == 202
    assert len(requests_for(db_session, sold_out)) == 1
    restock(db_session, sold_out, 1)
    assert run(db_session) == 1
    place_order(db_session, [(sold_out, 1)])  # the one unit is taken: sold out again
    assert ask(client, sold_out.sku).status_code == 202
    [again] = requests_for(db_session, sold_out)
    assert again.notified_at is None
    restock(db_session, sold_out, 1)
    assert run(db_session) == 1
    assert len(emails_to(db_session, "ann@example.com")) == 2


def test_stock_that_is_all_reserved_or_a_product_taken_off_sale_sends_nothing(
    client, db_session, sold_out
):
    other = make_variant(db_session, stock=0)
    assert ask(client, sold_out.sku).status_code == 202
    assert ask(client, other.sku).status_code == 202
    restock(db_session, sold_out, 1)
    place_order(db_session, [(sold_out, 1)])  # on hand 1, reserved 1
    restock(db_session, other, 2)
    other.product.status = "archived"
    db_session.flush()
    assert run(db_session) == 0
    assert emails_to(db_session, "ann@example.com") == []


def test_what_cannot_be_asked_for(client, db_session):
    in_stock = make_variant(db_session, stock=2)
    body = assert_problem(ask(client, in_stock.sku), 409, "in_stock")
    assert body["available"] == 2
    archived = make_variant(db_session, stock=0, status="archived")
    assert_problem(ask(client, archived.sku), 409, "product_unavailable")
    assert_problem(ask(client, "NO-SUCH-SKU"), 422, "sku_not_found")
    body = assert_problem(ask(client, "X", email="not an address"), 422, "validation_error")
    assert list(body["errors"]) == ["email"]
    assert db_session.scalar(select(func.count()).select_from(BackInStockRequest)) == 0


def test_a_customers_requests_are_in_the_export_and_go_with_the_account(
    client, db_session, sold_out
):
    user = make_user(db_session, email="bea@example.com")
    headers = bearer_for(db_session, user)
    assert ask(client, sold_out.sku, email="bea@example.com", headers=headers).status_code == 202
    second = make_variant(db_session, stock=0)
    assert ask(client, second.sku, email="bea@example.com").status_code == 202  # signed out
    export = client.get("/api/v1/me/export", headers=headers).json
    assert [(r["sku"], r["email"], r["notified_at"]) for r in export["back_in_stock"]] == \
        [(sold_out.sku, "bea@example.com", None)]
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    assert requests_for(db_session, sold_out) == requests_for(db_session, second) == []


def test_answered_requests_are_purged_after_a_month(client, db_session, sold_out):
    assert ask(client, sold_out.sku).status_code == 202
    restock(db_session, sold_out)
    now = utcnow()
    assert run(db_session, now) == 1
    assert purge_back_in_stock(session=db_session, now=now + timedelta(days=29)) == 0
    assert purge_back_in_stock(session=db_session, now=now + timedelta(days=31)) == 1
    assert requests_for(db_session, sold_out) == []


def test_requests_are_limited_per_ip_and_per_address(limited_app, db_session):
    from tests.accounts.test_ratelimits import assert_rate_limited

    app = limited_app(BACK_IN_STOCK_RATE_LIMIT="2 per minute",
                      BACK_IN_STOCK_EMAIL_RATE_LIMIT="100 per day")
    client = app.test_client()
    variant = make_variant(db_session, stock=0)
    assert ask(client, variant.sku, email="a@example.com").status_code == 202
    assert ask(client, variant.sku, email="b@example.com").status_code == 202
    assert_rate_limited(ask(client, variant.sku, email="c@example.com"))
    per_address = limited_app(BACK_IN_STOCK_RATE_LIMIT="100 per minute",
                              BACK_IN_STOCK_EMAIL_RATE_LIMIT="1 per minute").test_client()
    assert ask(per_address, variant.sku, email="d@example.com").status_code == 202
    assert_rate_limited(ask(per_address, variant.sku, email="D@example.com"))


@pytest.mark.postgresql_only
def test_the_same_request_at_once_from_many_devices_is_one_row(pooled_app):
    race_app = pooled_app(6)
    with race_app.app_context():
        variant = make_variant(db.session, stock=0)
        sku = variant.sku
        db.session.commit()
        db.session.remove()
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: ask(race_app.test_client(), sku).status_code,
                                 range(8)))
    assert statuses == [202] * 8
    with race_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BackInStockRequest)) == 1
        db.session.remove()


def test_staff_see_how_many_customers_wait_for_each_sku(client, db_session, sold_out):
    staff = bearer_for(db_session, make_user(db_session, role="staff"))
    for address in ("a@example.com", "b@example.com"):
        assert ask(client, sold_out.sku, email=address).status_code == 202

    def waiting() -> int:
        page = client.get(f"/api/v1/admin/stock?sku={sold_out.sku}", headers=staff).json
        [row] = page["items"]
        return row["waiting"]

    assert waiting() == 2
    restock(db_session, sold_out)
    run(db_session)
    assert waiting() == 0
    csv_export = client.get(f"/api/v1/admin/stock?sku={sold_out.sku}&format=csv", headers=staff)
    assert "waiting" in csv_export.get_data(as_text=True).splitlines()[0]


def test_a_customer_sees_and_withdraws_their_requests(client, db_session, sold_out):
    user = make_user(db_session, email="cy@example.com")
    headers = bearer_for(db_session, user)
    other = make_variant(db_session, stock=0)
    assert ask(client, sold_out.sku, email="cy@example.com", headers=headers).status_code == 202
    assert ask(client, other.sku, email="cy@example.com").status_code == 202  # signed out
    assert ask(client, other.sku, email="someone@example.com").status_code == 202
    waiting = client.get("/api/v1/me/back-in-stock", headers=headers).json["items"]
    assert [(w["sku"], w["product"], w["email"]) for w in waiting] == [
        (sold_out.sku, "MOIST Hyaluronic Acid Serum", "cy@example.com"),
        (other.sku, other.product.name, "cy@example.com")]
    assert client.delete(f"/api/v1/me/back-in-stock/{other.sku}",
                         headers=headers).status_code == 204
    assert client.delete(f"/api/v1/me/back-in-stock/{other.sku}",
                         headers=headers).status_code == 204
    left = client.get("/api/v1/me/back-in-stock", headers=headers).json["items"]
    assert [w["sku"] for w in left] == [sold_out.sku]
    assert [r.email for r in requests_for(db_session, other)] == ["someone@example.com"]
    assert client.get("/api/v1/me/back-in-stock").status_code == 401
