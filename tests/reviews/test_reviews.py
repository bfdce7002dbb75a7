"""Product reviews: verified buyers write them, staff approve or reject them (the customer is
told why), only approved ones are shown with their summary, and they go with the account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from shop.accounts.models import User
from shop.audit.models import AuditEntry
from shop.db import utcnow
from shop.errors import Unauthorized
from shop.reviews import services as reviews
from shop.reviews.models import ProductReview
from tests.accounts.test_api import assert_problem
from tests.accounts.test_ratelimits import assert_rate_limited
from tests.admin.factories import make_variant
from tests.fixtures.auth import bearer_for, make_user
from tests.payments.helpers import customer_email
from tests.returns.factories import dispatched_order
from tests.reviews.factories import (
    ADMIN,
    MINE,
    REVIEW,
    approve,
    bought,
    buyer,
    review_row,
    reviews_url,
)

PUBLIC_FIELDS = {"id", "author_name", "rating", "title", "body", "created_at",
                 "verified_purchase"}


def public(client, product, **query) -> dict:
    response = client.get(reviews_url(product), query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def write(client, product, headers, **body):
    return client.post(reviews_url(product), json={**REVIEW, **body}, headers=headers)


def test_a_buyers_review_waits_for_staff_then_shows(client, staff, db_session):
    user, headers, product = buyer(db_session, name="Lara Croft")
    written = write(client, product, headers)
    assert written.status_code == 201, written.json
    assert written.json["status"] == "pending" and written.json["author_name"] == "Lara C."
    assert written.json["product_slug"] == product.slug
    assert public(client, product)["items"] == []

    approved = approve(client, staff.headers, written.json['id'])
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved"
    assert approved.json["moderated_by_id"] == staff.user.id and approved.json["moderated_at"]
    page = public(client, product)
    assert page["total"] == 1 and page["summary"]["count"] == 1
    (item,) = page["items"]
    assert set(item) == PUBLIC_FIELDS
    assert (item["author_name"], item["rating"], item["title"], item["body"],
            item["verified_purchase"]) == ("Lara C.", 5, REVIEW["title"], REVIEW["body"], True)
    text = client.get(reviews_url(product)).get_data(as_text=True)
    assert user.email not in text and "user_id" not in text


def test_a_paid_and_collected_order_over_http_counts(client, staff, db_session,
                                                    use_localstripe):
    headers = bearer_for(db_session, make_user(db_session, name="Mina"))
    order = dispatched_order(client, db_session, use_localstripe, staff, headers=headers)
    written = write(client, order["variant"].product, headers)
    assert written.status_code == 201, written.json
    assert written.json["author_name"] == "Mina"


def test_only_a_paid_order_of_the_product_lets_a_customer_review_it(client, db_session):
    user = make_user(db_session)
    headers = bearer_for(db_session, user)
    assert_problem(write(client, make_variant(db_session).product, headers), 409,
                   "purchase_required")
    waiting = bought(db_session, user, status="pending_payment")
    assert_problem(write(client, waiting, headers), 409, "purchase_required")
    cancelled = bought(db_session, user, status="cancelled")
    assert_problem(write(client, cancelled, headers), 409, "purchase_required")
    other = make_user(db_session)
    someone_elses = bought(db_session, other)
    assert_problem(write(client, someone_elses, headers), 409, "purchase_required")
    assert db_session.scalar(select(func.count()).select_from(ProductReview)) == 0

    assert_problem(client.post("/api/v1/products/no-such-product/reviews", json=REVIEW,
                               headers=headers), 404, "product_not_found")
    assert_problem(client.get("/api/v1/products/no-such-product/reviews"), 404,
                   "product_not_found")
    archived = bought(db_session, user)
    archived.status = "archived"
    assert_problem(write(client, archived, headers), 404, "product_not_found")
    assert_problem(client.get(reviews_url(archived)), 404, "product_not_found")


def test_what_cannot_be_written(client, db_session):
    _, headers, product = buyer(db_session)
    for field, value in (("rating", 0), ("rating", 6), ("rating", "5"), ("title", "  "),
                         ("title", "x" * 121), ("body", ""), ("body", "x" * 2001),
                         ("author_name", " ")):
        body = assert_problem(write(client, product, headers, **{field: value}), 422,
                              "validation_error")
        assert list(body["errors"]) == [field]
    missing = client.post(reviews_url(product), json={"rating": 4}, headers=headers)
    assert set(assert_problem(missing, 422, "validation_error")["errors"]) == {"title", "body"}


def test_one_review_per_product_and_an_edit_goes_back_to_staff(client, staff, db_session):
    _, headers, product = buyer(db_session)
    first = write(client, product, headers, author_name="Lara from Leeds").json
    assert first["author_name"] == "Lara from Leeds"
    again = assert_problem(write(client, product, headers, rating=1), 409, "already_reviewed")
    assert again["review_id"] == first["id"]
    approve(client, staff.headers, first['id'])
    assert public(client, product)["total"] == 1

    unchanged = client.patch(f"{MINE}/{first['id']}", json={"rating": 5}, headers=headers)
    assert unchanged.status_code == 200 and unchanged.json["status"] == "approved"
    edited = client.patch(f"{MINE}/{first['id']}", json={"rating": 3, "body": "Fine."},
                          headers=headers)
    assert edited.status_code == 200, edited.json
    assert (edited.json["status"], edited.json["rating"], edited.json["body"],
            edited.json["title"]) == ("pending", 3, "Fine.", REVIEW["title"])
    assert public(client, product)["total"] == 0
    assert_problem(client.patch(f"{MINE}/{first['id']}", json={"title": " "},
                                headers=headers), 422, "validation_error")


def test_customers_see_edit_and_delete_only_their_own_reviews(client, staff, db_session):
    _, headers, product = buyer(db_session)
    review = write(client, product, headers).json
    client.post(f"{ADMIN}/{review['id']}/reject", json={"reason": "Mentions a competitor."},
                headers=staff.headers)
    (mine,) = client.get(MINE, headers=headers).json["items"]
    assert (mine["id"], mine["status"], mine["rejection_reason"]) == \
        (review["id"], "rejected", "Mentions a competitor.")
    assert mine["product_name"] == product.name

    stranger = bearer_for(db_session, make_user(db_session))
    assert client.get(MINE, headers=stranger).json == {"items": [], "page": 1, "per_page": 24,
                                                       "total": 0}
    assert_problem(client.patch(f"{MINE}/{review['id']}", json={"rating": 1},
                                headers=stranger), 404, "review_not_found")
    assert_problem(client.delete(f"{MINE}/{review['id']}", headers=stranger), 404,
                   "review_not_found")

    resent = client.patch(f"{MINE}/{review['id']}", json={"title": "Lovely serum"},
                          headers=headers).json
    assert (resent["status"], resent["rejection_reason"]) == ("pending", None)
    assert client.delete(f"{MINE}/{review['id']}", headers=headers).status_code == 204
    assert_problem(client.delete(f"{MINE}/{review['id']}", headers=headers), 404,
                   "review_not_found")
    assert client.get(MINE, headers=headers).json["total"] == 0
    assert write(client, product, headers).status_code == 201  # deleted: may write anew


def test_the_summary_counts_approved_reviews_only_and_the_sorts(client, db_session):
    product = make_variant(db_session).product
    empty = public(client, product)
    assert empty["summary"] == {"count": 0, "average": None,
                                "stars": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}
    start = utcnow() - timedelta(days=10)
    for day, rating in enumerate((4, 5, 2, 4)):
        review_row(db_session, product, rating=rating, created_at=start + timedelta(days=day))
    review_row(db_session, product, rating=1, status="pending")
    review_row(db_session, product, rating=1, status="rejected")
    review_row(db_session, make_variant(db_session).product, rating=1)  # another product's
    db_session.commit()

    newest = public(client, product)
    assert newest["summary"] == {"count": 4, "average": 3.8,  # 15 / 4 = 3.75, rounded up
                                 "stars": {"1": 0, "2": 1, "3": 0, "4": 2, "5": 1}}
    assert newest["total"] == 4
    assert [item["rating"] for item in newest["items"]] == [4, 2, 5, 4]
    assert [item["rating"] for item in public(client, product, sort="highest")["items"]] == \
        [5, 4, 4, 2]
    lowest = public(client, product, sort="lowest", per_page=2)
    assert [item["rating"] for item in lowest["items"]] == [2, 4]
    assert (lowest["total"], lowest["per_page"]) == (4, 2)
    second = public(client, product, sort="lowest", per_page=2, page=2)
    assert [item["rating"] for item in second["items"]] == [4, 5]
    assert second["summary"] == newest["summary"]
    assert_problem(client.get(reviews_url(product), query_string={"sort": "best"}), 422,
                   "validation_error")


def test_staff_approve_and_reject_audited_and_the_customer_told_why(
        client, staff, db_session):
    user, headers, product = buyer(db_session)
    review = write(client, product, headers).json
    url = f"{ADMIN}/{review['id']}"
    assert_problem(client.post(f"{url}/reject", json={"reason": "  "}, headers=staff.headers),
                   422, "validation_error")
    rejected = client.post(f"{url}/reject", json={"reason": "Please leave out prices."},
                           headers=staff.headers)
    assert rejected.status_code == 200, rejected.json
    assert (rejected.json["status"], rejected.json["rejection_reason"],
            rejected.json["email"]) == ("rejected", "Please leave out prices.", user.email)
    twice = assert_problem(client.post(f"{url}/reject", json={"reason": "Again."},
                                       headers=staff.headers), 409, "invalid_review_transition")
    assert twice["review_status"] == "rejected"

    approved = approve(client, staff.headers, review['id'])  # staff changed their mind
    assert approved.json["status"] == "approved" and approved.json["rejection_reason"] is None
    assert_problem(approve(client, staff.headers, review['id']), 409, "invalid_review_transition")
    taken_down = client.post(f"{url}/reject", json={"reason": "A reaction claim."},
                             headers=staff.headers)
    assert taken_down.json["status"] == "rejected"
    assert public(client, product)["total"] == 0

    entries = list(db_session.scalars(select(AuditEntry).where(
        AuditEntry.entity == "review", AuditEntry.entity_id == str(review["id"]))
        .order_by(AuditEntry.id)))
    assert [(entry.action, entry.before, entry.after) for entry in entries] == [
        ("review.reject", {"status": "pending"},
         {"status": "rejected", "reason": "Please leave out prices."}),
        ("review.approve", {"status": "rejected"}, {"status": "approved"}),
        ("review.reject", {"status": "approved"},
         {"status": "rejected", "reason": "A reaction claim."}),
    ]
    for entry, reason in ((entries[0], "Please leave out prices."),
                          (entries[2], "A reaction claim.")):
        email = customer_email(db_session, f"review-rejected:{review['id']}:{entry.id}")
        assert email.to == user.email and reason in email.text
        assert product.name in email.subject
    assert_problem(approve(client, staff.headers, 999999), 404,
                   "review_not_found")


def test_staff_list_filter_and_csv(client, staff, db_session):
    _, headers, product = buyer(db_session)
    review = write(client, product, headers).json
    other = review_row(db_session, make_variant(db_session).product, rating=2)
    page = client.get(ADMIN, query_string={"status": "pending", "product": product.slug},
                      headers=staff.headers).json
    assert [item["id"] for item in page["items"]] == [review["id"]]
    assert client.get(ADMIN, query_string={"product": other.product.slug},
                      headers=staff.headers).json["total"] == 1
    assert client.get(ADMIN, query_string={"status": "approved", "product": product.slug},
                      headers=staff.headers).json["total"] == 0
    one = client.get(f"{ADMIN}/{review['id']}", headers=staff.headers).json
    assert one["title"] == REVIEW["title"] and one["user_id"] is not None
    csv = client.get(ADMIN, query_string={"format": "csv", "product": product.slug},
                     headers=staff.headers)
    assert csv.mimetype == "text/csv" and REVIEW["title"] in csv.get_data(as_text=True)
    assert_problem(client.get(f"{ADMIN}/999999", headers=staff.headers), 404,
                   "review_not_found")


def test_customers_cannot_moderate_and_strangers_must_sign_in(client, db_session):
    _, headers, product = buyer(db_session)
    review = write(client, product, headers).json
    url = f"{ADMIN}/{review['id']}"
    for response in (client.get(ADMIN, headers=headers), client.get(url, headers=headers),
                     approve(client, headers, review["id"]),
                     client.post(f"{url}/reject", json={"reason": "x"}, headers=headers)):
        assert_problem(response, 403, "insufficient_role")
    for response in (client.post(reviews_url(product), json=REVIEW), client.get(MINE),
                     client.patch(f"{MINE}/{review['id']}", json={"rating": 1}),
                     client.delete(f"{MINE}/{review['id']}"), client.get(ADMIN),
                     client.post(f"{url}/approve")):
        assert_problem(response, 401, "authentication_required")
    assert db_session.get(ProductReview, review["id"]).status == "pending"


def test_markup_is_kept_as_written_and_only_ever_sent_as_json(client, staff, db_session):
    _, headers, product = buyer(db_session)
    title, body = "<script>alert('x')</script>", '<img src=x onerror="alert(1)"> & <b>bold</b>'
    written = write(client, product, headers, title=title, body=body,
                    author_name="<i>Ann</i>")
    assert written.status_code == 201 and written.mimetype == "application/json"
    approve(client, staff.headers, written.json['id'])
    (item,) = public(client, product)["items"]
    assert (item["title"], item["body"], item["author_name"]) == (title, body, "<i>Ann</i>")
    rejected = client.post(f"{ADMIN}/{written.json['id']}/reject",
                           json={"reason": "<b>No</b>"}, headers=staff.headers)
    entry = db_session.scalar(select(AuditEntry.id).where(AuditEntry.action == "review.reject"))
    email = customer_email(db_session, f"review-rejected:{rejected.json['id']}:{entry}")
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "<b>No</b>" not in email.html


def test_a_customers_reviews_are_exported_and_go_with_the_account(client, db_session):
    user, headers, product = buyer(db_session)
    review = write(client, product, headers).json
    exported = client.get("/api/v1/me/export", headers=headers).json["reviews"]
    assert [(row["product_slug"], row["title"], row["status"]) for row in exported] == [
        (product.slug, REVIEW["title"], "pending")]
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    assert db_session.get(ProductReview, review["id"]) is None
    assert user.id is not None


def test_reviews_are_limited_per_ip(limited_app, db_session):
    user = make_user(db_session)
    headers = bearer_for(db_session, user)
    product = bought(db_session, user)
    db_session.commit()
    limited = limited_app(REVIEW_RATE_LIMIT="1 per minute").test_client()
    assert limited.post(reviews_url(product), json=REVIEW, headers=headers).status_code == 201
    assert_rate_limited(limited.post(reviews_url(product), json=REVIEW, headers=headers))


def test_staff_publish_only_the_version_they_read(client, staff, db_session):
    _, headers, product = buyer(db_session)
    review = write(client, product, headers).json
    read = client.get(f"{ADMIN}/{review['id']}", headers=staff.headers).json
    edited = client.patch(f"{MINE}/{review['id']}", headers=headers,
                          json={"body": "Buy it somewhere else instead."})
    assert edited.status_code == 200 and edited.json["status"] == "pending"
    stale = client.post(f"{ADMIN}/{review['id']}/approve", headers=staff.headers,
                        json={"updated_at": read["updated_at"]})
    changed = assert_problem(stale, 409, "review_changed")
    assert changed["updated_at"] != read["updated_at"]
    assert public(client, product)["items"] == []
    assert approve(client, staff.headers, review["id"]).json["body"] == \
        "Buy it somewhere else instead."


def test_a_review_that_waited_for_the_accounts_deletion_is_refused(db_session):
    """The review reads the account locked: one that waited for a deletion to commit finds it
    deleted (here, deleted behind the session's back) and writes nothing."""
    user, _, product = buyer(db_session)
    db_session.execute(update(User).where(User.id == user.id).values(deleted_at=utcnow()))
    with pytest.raises(Unauthorized):
        reviews.write(session=db_session, slug=product.slug, user=user, **REVIEW)
    assert db_session.scalar(select(func.count()).select_from(ProductReview)
                             .where(ProductReview.user_id == user.id)) == 0
