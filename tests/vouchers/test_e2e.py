"""The issue's story end to end: the app on a real socket, localstripe paying and sending
signed webhooks, aiosmtpd receiving the voucher emails, the worker's jobs run by hand."""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass

import pytest
import requests
from pypdf import PdfReader

from shop import create_app
from shop.extensions import db
from shop.worker import run_job
from tests.fixtures.auth import bearer_for, make_user
from tests.fixtures.live import serve_app
from tests.fixtures.stripe import LocalStripeFixture, settings_for
from tests.vouchers.cleartext import places_holding

pytestmark = pytest.mark.slow
CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
PRODUCT = "GLW-BRUSH-SONIC"  # £89.00 from the seed catalogue, 25 in stock


@dataclass
class Shop:
    url: str
    worker: object
    stripe: LocalStripeFixture
    http: requests.Session

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(f"{self.url}/api/v1{path}", timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(f"{self.url}/api/v1{path}", timeout=30, **kwargs)

    def order(self, placed: dict) -> dict:
        return self.get(f"/orders/{placed['order']['id']}",
                        headers={"X-Order-Token": placed["access_token"]}).json()

    def wait_until_paid(self, placed: dict, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while (order := self.order(placed))["status"] != "paid":
            assert time.monotonic() < deadline, "localstripe's webhook never marked it paid"
            time.sleep(0.1)
        return order


@pytest.fixture
def shop(committed, app_config, localstripe, smtp_server):
    secret = f"whsec_vouchers_{time.time_ns()}"
    config = {**app_config, **settings_for(localstripe, secret), "SMTP_URL": smtp_server.url}
    localstripe.reset()
    worker = create_app(config)
    with serve_app(config) as url, requests.Session() as http:
        localstripe.register_webhook(f"{url}/api/v1/stripe/webhook", secret)
        try:
            yield Shop(url, worker, localstripe, http)
        finally:
            localstripe.webhooks_off()
            with worker.app_context():
                db.engine.dispose()


def staff_headers(app) -> dict:
    with app.app_context():
        headers = bearer_for(db.session, make_user(db.session, role="staff"))
        db.session.commit()
        db.session.remove()
    return headers


def pdf_of(message) -> bytes:
    [attachment] = [part for part in message.iter_attachments()
                    if part.get_content_type() == "application/pdf"]
    return attachment.get_content()


def code_in_pdf(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    [code] = CODE.findall(text)
    return code


def assert_no_code_in_clear(app, *codes: str) -> None:
    """A copy of the database alone reveals no usable code."""
    with app.app_context():
        try:
            assert {code: places_holding(db.session, code) for code in codes} == {
                code: [] for code in codes}
        finally:
            db.session.remove()


def test_buy_deliver_spend_and_redeem_vouchers(shop, smtp_server, app):
    # 1. One cart: a product, a Hydra Facial voucher for Ada, a £50 voucher for Bob.
    cart = shop.post("/carts").json()["id"]
    for body in (
        {"sku": PRODUCT},
        {"sku": "GLW-GV-HYDRA-FACIAL", "voucher": {
            "recipient_name": "Ada", "recipient_email": "ada@example.com",
            "message": "Happy birthday!"}},
        {"sku": "GLW-GV-50", "voucher": {"recipient_name": "Bob",
                                         "recipient_email": "bob@example.com"}},
    ):
        added = shop.post(f"/carts/{cart}/items", json={"quantity": 1, **body})
        assert added.status_code == 201, added.text
    placed = shop.post(f"/carts/{cart}/checkout", json={
        "email": "buyer@example.com", "shipping_method": "click-and-collect"}).json()
    total = placed["order"]["totals"]["total"]["amount"]
    assert total == 8900 + 17500 + 5000 and placed["payment"]["amount"]["amount"] == total
    vat = {row["rate"]: row["amount"]["amount"] for row in placed["order"]["vat"]}
    assert vat == {20: round((8900 + 17500) / 6), 0: 0}  # the money voucher carries no VAT

    # 2. Pay by card; the webhook marks the order paid and issues both vouchers.
    assert shop.stripe.pay(placed["payment"]["client_secret"])["status"] == "succeeded"
    order = shop.wait_until_paid(placed)
    shown = {voucher["kind"]: voucher for voucher in order["vouchers"]}
    assert set(shown) == {"treatment", "money"}

    # 3. The worker sends the confirmation and both vouchers, each with its PDF.
    assert run_job(shop.worker, "send_outbox") == 3
    messages = {message["To"]: message for message in smtp_server.wait_for(3)}
    hydra_code = code_in_pdf(pdf_of(messages["ada@example.com"]))
    fifty_code = code_in_pdf(pdf_of(messages["bob@example.com"]))
    assert hydra_code.replace("-", "") == shown["treatment"]["code"]
    assert fifty_code.replace("-", "") == shown["money"]["code"]
    assert "Happy birthday!" in messages["ada@example.com"].get_body(("plain",)).get_content()
    assert_no_code_in_clear(app, hydra_code, fifty_code)  # sealed while queued, emptied once sent

    # 4. Check the balance with the code from the PDF.
    looked_up = shop.get(f"/vouchers/{fifty_code.lower()}").json()
    assert looked_up["balance"] == {"amount": 5000, "currency": "GBP"}
    assert looked_up["status"] == "active"

    # 5. A second order: the £50 voucher pays part of it, Stripe the rest.
    cart = shop.post("/carts").json()["id"]
    shop.post(f"/carts/{cart}/items", json={"sku": PRODUCT, "quantity": 1})
    applied = shop.post(f"/carts/{cart}/vouchers", json={"code": fifty_code}).json()
    assert applied["vouchers"]["covered"]["amount"] == 5000
    second = shop.post(f"/carts/{cart}/checkout", json={
        "email": "bob@example.com", "shipping_method": "click-and-collect"}).json()
    assert second["order"]["totals"]["amount_due"]["amount"] == 8900 - 5000
    assert second["payment"]["amount"]["amount"] == 8900 - 5000
    assert shop.get(f"/vouchers/{fifty_code}").json()["balance"]["amount"] == 0  # held
    assert shop.stripe.pay(second["payment"]["client_secret"])["status"] == "succeeded"
    shop.wait_until_paid(second)
    assert shop.get(f"/vouchers/{fifty_code}").json()["status"] == "redeemed"

    # 6. At the clinic: Ada's Hydra Facial is redeemed by staff.
    headers = staff_headers(app)
    redeemed = shop.post(f"/admin/vouchers/{hydra_code}/redemptions", headers=headers,
                         json={"treatment": "hydra-facial"})
    assert redeemed.status_code == 201, redeemed.text
    assert shop.get(f"/vouchers/{hydra_code}").json()["status"] == "redeemed"

    # 7. The ledgers tell the whole story, and each balance is its ledger's sum.
    for code, story in ((fifty_code, ["issue", "hold", "debit"]),
                        (hydra_code, ["issue", "redemption"])):
        body = shop.get(f"/admin/vouchers/{code}", headers=headers).json()
        assert [entry["kind"] for entry in body["ledger"]] == story
        assert sum(e["amount"]["amount"] for e in body["ledger"]) == body["balance"]["amount"] == 0
    money_ledger = shop.get(f"/admin/vouchers/{fifty_code}", headers=headers).json()["ledger"]
    assert {e["order_id"] for e in money_ledger} == {placed["order"]["id"],
                                                      second["order"]["id"]}
    assert_no_code_in_clear(app, hydra_code, fifty_code)
