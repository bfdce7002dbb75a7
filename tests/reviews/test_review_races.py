"""One customer's review sent several times at once (PostgreSQL): the unique key lets one in,
the others are told it exists (409), and none fails with a 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.reviews.models import ProductReview
from tests.reviews.factories import REVIEW, buyer, reviews_url

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]
THREADS = 6


def test_the_same_review_sent_at_once_is_made_once(pooled_app):
    app = pooled_app(THREADS + 2)
    with app.app_context():
        _, headers, product = buyer(db.session)
        url = reviews_url(product)
        db.session.commit()
        product_id = product.id
        db.session.remove()

    def send(_: int) -> int:
        response = app.test_client().post(url, json=REVIEW, headers=headers)
        assert response.status_code in (201, 409), response.get_data(as_text=True)
        if response.status_code == 409:
            assert response.json["code"] == "already_reviewed"
        return response.status_code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = sorted(pool.map(send, range(THREADS)))
    assert statuses == [201] + [409] * (THREADS - 1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProductReview)
                                 .where(ProductReview.product_id == product_id)) == 1
        db.session.remove()
