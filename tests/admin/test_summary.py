"""GET /admin/summary counts what needs doing, for staff only."""

from __future__ import annotations

from shop.db import utcnow
from shop.enquiries.models import TreatmentEnquiry
from shop.notifications import services as notifications
from shop.notifications.models import OutboxEmail
from shop.returns.models import OrderReturn, OrderReturnLine
from shop.reviews.models import ProductReview
from tests.admin.factories import make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user

URL = "/api/v1/admin/summary"


def counts(client, staff) -> dict:
    response = client.get(URL, headers=staff.headers)
    assert response.status_code == 200, response.json
    return response.json


def deltas(before: dict, after: dict) -> dict:
    return {section: {name: after[section][name] - value for name, value in fields.items()
                      if isinstance(value, int)}
            for section, fields in before.items() if isinstance(fields, dict)}


def test_the_summary_counts_what_needs_doing(client, staff, db_session):
    before = counts(client, staff)
    plenty = make_variant(db_session, stock=10, threshold=2)
    low = make_variant(db_session, stock=1, threshold=5)
    make_variant(db_session, stock=0, threshold=5)
    make_variant(db_session, stock=0, threshold=5).is_active = False  # archived: never counted
    waiting = place_order(db_session, [(plenty, 1)])
    paid = place_order(db_session, [(plenty, 1)])
    paid.status, paid.paid_at = "paid", utcnow()
    flagged = place_order(db_session, [(low, 1)])
    flagged.needs_attention = True
    db_session.add(OrderReturn(order_id=paid.id, reason="faulty", estimated_refund_amount=100,
                               lines=[OrderReturnLine(order_line_id=paid.lines[0].id,
                                                      quantity=1)]))
    db_session.add(TreatmentEnquiry(treatment_name="Hydra Facial", name="Ann",
                                    email="ann@example.com"))
    for status in ("pending", "approved", "rejected"):
        db_session.add(ProductReview(product_id=plenty.product_id,
                                     user_id=make_user(db_session).id, rating=5,
                                     title="Lovely", body="Soft skin.", author_name="Ann B.",
                                     status=status))
    notifications.enqueue_email(session=db_session, to="x@example.com", subject="s", text="t",
                                dedupe_key="summary-test-failed")
    db_session.flush()
    db_session.query(OutboxEmail).filter_by(dedupe_key="summary-test-failed").update(
        {"status": "failed"})
    db_session.commit()

    after = counts(client, staff)
    assert deltas(before, after) == {
        "orders": {"pending_payment": 2, "to_fulfil": 1, "to_complete": 0, "needs_attention": 1},
        "returns": {"requested": 1, "received": 0},
        "enquiries": {"new": 1},
        "reviews": {"pending": 1},
        # `low` had 1 and the flagged order holds it: sold out now, like the empty one
        "stock": {"low": 2, "out": 2, "customers_waiting": 0},
        "emails": {"waiting": 0, "failed": 1},
    }
    assert after["orders"]["oldest_to_fulfil_paid_at"] is not None
    assert waiting.status == "pending_payment"


def test_only_staff_see_the_summary(client, db_session):
    assert client.get(URL).status_code == 401
    customer = bearer_for(db_session, make_user(db_session))
    assert client.get(URL, headers=customer).status_code == 403
