"""Low-stock alert e-mails: queued once per fall below the threshold, re-armed by restocking."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shop.admin.models import LowStockAlert
from shop.admin.stock import alerts
from shop.catalogue.models import Product, Variant
from shop.db import utcnow
from shop.inventory import services as inventory
from shop.inventory.models import StockLevel
from shop.notifications.models import OutboxEmail
from shop.worker import load_jobs
from tests.fixtures.auth import make_user

SKU = "GLW-BRUSH-SONIC"  # 25 on hand, threshold 5
TEAM = ["stockroom@clinic.example"]


def variant_id(db_session, sku: str = SKU) -> int:
    return db_session.scalar(select(Variant.id).where(Variant.sku == sku))


def move(db_session, quantity: int, sku: str = SKU) -> None:
    inventory.record_movement(session=db_session, variant_id=variant_id(db_session, sku),
                              quantity=quantity, reason="correction")


def run(db_session, recipients=TEAM) -> int:
    return alerts.send_low_stock_alerts(session=db_session, now=utcnow(), recipients=recipients)


def emails_mentioning(db_session, sku: str = SKU) -> list[OutboxEmail]:
    return [email for email in db_session.scalars(select(OutboxEmail).order_by(OutboxEmail.id))
            if f"- {sku} " in email.text]


def test_one_email_per_fall_below_the_threshold(db_session):
    run(db_session)  # the seed has SKUs that start low: they are alerted here, once
    assert emails_mentioning(db_session) == []
    move(db_session, -21)  # 4 available, threshold 5
    assert run(db_session) == 1
    [email] = emails_mentioning(db_session)
    assert email.to == TEAM[0] and "below threshold" in email.subject
    assert "4 available, threshold 5" in email.text
    assert run(db_session) == 0
    move(db_session, -2)  # still low: no new e-mail
    assert run(db_session) == 0 and len(emails_mentioning(db_session)) == 1


def test_restocking_rearms_the_alert(db_session):
    run(db_session)
    move(db_session, -21)
    run(db_session)
    move(db_session, +10)  # 14 available: back above
    run(db_session)
    assert db_session.get(LowStockAlert, variant_id(db_session)) is None
    move(db_session, -12)  # 2 available: a second crossing
    assert run(db_session) == 1
    assert len(emails_mentioning(db_session)) == 2


def test_reservations_count_against_availability(db_session):
    run(db_session)
    inventory.reserve(session=db_session, variant_id=variant_id(db_session), quantity=21)
    assert run(db_session) == 1
    assert db_session.get(LowStockAlert, variant_id(db_session)).available == 4


def test_archived_products_and_inactive_variants_are_not_alerted(db_session):
    run(db_session)
    brush = db_session.scalar(select(Product).where(Product.slug == "glow-sonic-cleansing-brush"))
    brush.status = "archived"
    move(db_session, -21)
    head = db_session.scalar(select(Variant).where(Variant.sku == "GLW-BRUSH-SOFT-HEAD"))
    head.is_active = False
    db_session.get(StockLevel, head.id).low_stock_threshold = 1000
    db_session.flush()
    assert run(db_session) == 0


def test_every_recipient_gets_the_digest(db_session):
    run(db_session)
    move(db_session, -21)
    move(db_session, -55, "GLW-BRUSH-SONIC-HEAD")  # 5 left, threshold 10
    assert run(db_session, ["a@clinic.example", "b@clinic.example"]) == 2
    emails = emails_mentioning(db_session)
    assert sorted(email.to for email in emails) == ["a@clinic.example", "b@clinic.example"]
    assert all("GLW-BRUSH-SONIC-HEAD" in email.text for email in emails)
    assert emails[0].subject == "Low stock: 2 SKUs below threshold"


def test_nobody_to_tell_keeps_the_alert_armed(db_session):
    run(db_session)
    move(db_session, -21)
    assert run(db_session, []) == 0
    assert db_session.get(LowStockAlert, variant_id(db_session)) is None


def test_recipients_default_to_staff_accounts(db_session):
    staff = make_user(db_session, role="staff")
    admin = make_user(db_session, role="admin")
    make_user(db_session, role="customer")
    found = alerts.alert_recipients(session=db_session)
    assert staff.email in found and admin.email in found
    assert all("customer" not in address for address in found)
    assert alerts.alert_recipients(session=db_session, configured=" x@a.example, y@a.example ") \
        == ["x@a.example", "y@a.example"]


def test_the_worker_job_uses_staff_alert_email(app, db_session, monkeypatch):
    job = load_jobs()["low_stock_alerts"]
    assert job.interval(app.config) == app.config["LOW_STOCK_ALERT_EVERY_SECONDS"]
    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAIL", "alerts@clinic.example")
    job.fn(session=db_session, now=utcnow())
    move(db_session, -21)
    assert job.fn(session=db_session, now=utcnow() + timedelta(minutes=5)) == 1
    assert [email.to for email in emails_mentioning(db_session)] == ["alerts@clinic.example"]
