"""Staff's customer accounts: find, see at a glance, export the marketing list, disable, and
turn off two-factor sign-in for a customer who lost their phone and recovery codes."""

from __future__ import annotations

import csv
import io

import pyotp
from sqlalchemy import select

from shop.audit.models import AuditEntry
from shop.notifications.models import OutboxEmail
from shop.orders import services as orders
from tests.accounts.test_api import PASSWORD, assert_problem
from tests.admin.factories import make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user

URL = "/api/v1/admin/customers"


def paid(db_session, user, price=2500, quantity=1):
    order = place_order(db_session, [(make_variant(db_session, price=price), quantity)],
                        email=user.email)
    order.user_id = user.id
    orders.mark_paid(session=db_session, order_id=order.id, amount_received=order.amount_due,
                     reference="pi_test")
    return order


def test_staff_find_customers_by_email_or_name_with_their_spend(client, db_session, staff):
    ada = make_user(db_session, email="ada.lovelace@example.com", name="Ada Lovelace")
    make_user(db_session, email="grace@example.com", name="Grace Hopper")
    make_user(db_session, role="staff", email="desk-ada@example.com")  # not a customer
    first, second = paid(db_session, ada, 2500), paid(db_session, ada, 1000, 2)
    place_order(db_session, [(make_variant(db_session), 1)], email=ada.email).user_id = ada.id
    db_session.flush()
    found = client.get(f"{URL}?q=ADA", headers=staff.headers).json
    assert [item["email"] for item in found["items"]] == ["ada.lovelace@example.com"]
    [row] = found["items"]
    spent = first.total_amount + second.total_amount
    assert (row["orders"], row["spent"]) == (2, {"amount": spent, "currency": "GBP"})
    by_name = client.get(f"{URL}?q=hopper", headers=staff.headers).json
    assert [item["name"] for item in by_name["items"]] == ["Grace Hopper"]


def test_one_customer_with_addresses_and_latest_orders(client, db_session, staff):
    ada = make_user(db_session, email="ada@example.com", name="Ada")
    order = paid(db_session, ada)
    detail = client.get(f"{URL}/{ada.id}", headers=staff.headers)
    assert detail.status_code == 200, detail.json
    assert [o["number"] for o in detail.json["recent_orders"]] == [order.number]
    assert detail.json["addresses"] == [] and detail.json["disabled"] is False
    assert_problem(client.get(f"{URL}/999999", headers=staff.headers), 404, "customer_not_found")
    staff_user = make_user(db_session, role="staff")
    assert_problem(client.get(f"{URL}/{staff_user.id}", headers=staff.headers), 404,
                   "customer_not_found")


def test_the_marketing_list_is_those_who_agreed(client, db_session, staff):
    yes = make_user(db_session, email="yes@example.com")
    yes.marketing_consent = True
    make_user(db_session, email="no@example.com")
    db_session.flush()
    response = client.get(f"{URL}?marketing_consent=true&format=csv", headers=staff.headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["email"] for row in rows] == ["yes@example.com"]


def test_an_admin_disables_a_customer_who_is_signed_out_at_once(client, db_session, admin,
                                                                staff):
    customer = make_user(db_session, email="abuse@example.com", password=PASSWORD)
    headers = bearer_for(db_session, customer)
    assert client.patch(f"{URL}/{customer.id}", json={"disabled": True},
                        headers=staff.headers).status_code == 403
    response = client.patch(f"{URL}/{customer.id}", json={"disabled": True},
                            headers=admin.headers)
    assert response.status_code == 200 and response.json["disabled"] is True
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    login = client.post("/api/v1/auth/token",
                        json={"email": "abuse@example.com", "password": PASSWORD})
    assert login.status_code == 401
    assert client.patch(f"{URL}/{customer.id}", json={"disabled": False},
                        headers=admin.headers).json["disabled"] is False
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.update")
                                 .order_by(AuditEntry.id)).all()
    assert [(e.before, e.after) for e in entries] == [
        ({"disabled": False}, {"disabled": True}), ({"disabled": True}, {"disabled": False})]


def test_deleted_accounts_are_left_out_unless_opened_by_id(client, db_session, staff):
    gone = make_user(db_session, email="gone@example.com")
    assert client.delete("/api/v1/me", headers=bearer_for(db_session, gone)).status_code == 204
    listed = client.get(URL, headers=staff.headers).json["items"]
    assert gone.id not in [item["id"] for item in listed]
    assert client.get(f"{URL}/{gone.id}", headers=staff.headers).json["deleted"] is True


def test_customers_cannot_list_customers(client, db_session):
    customer = bearer_for(db_session, make_user(db_session))
    assert client.get(URL, headers=customer).status_code == 403
    assert client.get(URL).status_code == 401


def test_an_admin_turns_off_two_factor_for_a_customer_who_lost_phone_and_codes(
        client, db_session, admin, staff):
    customer = make_user(db_session, email="lost-phone@example.com", password=PASSWORD)
    headers = bearer_for(db_session, customer)
    secret = client.post("/api/v1/me/two-factor/setup", headers=headers).json["secret"]
    confirmed = client.post("/api/v1/me/two-factor/confirm", headers=headers, json={
        "password": PASSWORD, "code": pyotp.TOTP(secret).now()})
    assert confirmed.status_code == 200, confirmed.json
    assert client.get(f"{URL}/{customer.id}", headers=staff.headers).json[
        "two_factor_enabled"] is True
    assert client.patch(f"{URL}/{customer.id}", json={"two_factor": False},
                        headers=staff.headers).status_code == 403
    assert client.patch(f"{URL}/{customer.id}", json={"two_factor": True},
                        headers=admin.headers).status_code == 422

    response = client.patch(f"{URL}/{customer.id}", json={"two_factor": False},
                            headers=admin.headers)
    assert response.status_code == 200, response.json
    assert response.json["two_factor_enabled"] is False and response.json["disabled"] is False
    assert client.get("/api/v1/me", headers=headers).status_code == 401  # signed out
    login = client.post("/api/v1/auth/token",
                        json={"email": "lost-phone@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.json  # the password alone, until they enrol again
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.update",
                                                        AuditEntry.entity_id == str(customer.id))
                               ).one()
    assert (entry.before, entry.after) == ({"two_factor": True}, {"two_factor": False})
    told = db_session.scalars(select(OutboxEmail).where(OutboxEmail.to == customer.email)
                              .order_by(OutboxEmail.id.desc())).first()
    assert "turned two-step sign-in off" in told.text


def test_a_customer_update_must_change_something(client, db_session, admin):
    customer = make_user(db_session, email="nothing@example.com")
    response = client.patch(f"{URL}/{customer.id}", json={}, headers=admin.headers)
    assert response.status_code == 422 and "_schema" in str(response.json)
