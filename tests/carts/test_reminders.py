"""The worker's carts.reminders job: one email about a cart a signed-in customer left, only
with marketing consent, an active account and a proved address; priced now, without what can
no longer be bought; once per cart until it changes, and once per customer per gap."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import select

from shop.accounts import marketing, password_reset
from shop.accounts import services as accounts
from shop.accounts.models import User
from shop.carts import jobs, reminders
from shop.carts import services as carts
from shop.carts.models import Cart
from shop.db import utcnow
from shop.extensions import db
from shop.inventory import services as inventory
from shop.notifications import services as notifications
from shop.notifications.models import OutboxEmail
from shop.orders import services as orders
from shop.worker import load_jobs, run_job
from tests.accounts.test_api import assert_problem
from tests.carts.factories import make_cart, make_variant, place_order
from tests.fixtures.auth import bearer_for, make_user

SUBJECT = "You left something in your GLOW Clinic cart"
STOP = "turn off marketing emails in your account"
API = "https://api.clinic.example"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def customer(session, *, consent: bool = True, verified: bool = True, **fields):
    user = make_user(session, name="Ada")
    user.marketing_consent, user.marketing_consent_at = consent, utcnow() if consent else None
    user.email_verified_at = utcnow() if verified else None
    for name, value in fields.items():
        setattr(user, name, value)
    session.flush()
    return user


def left(session, cart: Cart, hours: float = 30) -> Cart:
    """The cart as if last changed `hours` ago."""
    cart.updated_at = utcnow() - timedelta(hours=hours)
    session.flush()
    return cart


def idle_cart(session, user, *, hours: float = 30, items=None) -> Cart:
    return left(session, make_cart(session, items or [(make_variant(session), 1)], user=user),
                hours)


def run(session, now=None) -> int:
    session.expire_all()
    sent = jobs.send_cart_reminders(session=session, now=now or utcnow())
    session.flush()
    return sent


def emails(session, to: str | None = None) -> list[OutboxEmail]:
    query = select(OutboxEmail).where(OutboxEmail.dedupe_key.like("cart-reminder:%"))
    if to is not None:
        query = query.where(OutboxEmail.to == to)
    return list(session.scalars(query.order_by(OutboxEmail.id)))


def test_the_job_is_registered_with_its_setting():
    registered = load_jobs()["carts.reminders"]
    assert registered.fn is jobs.send_cart_reminders
    assert registered.interval({"CART_REMINDER_EVERY_SECONDS": 60}) == 60


def test_an_idle_cart_gets_one_email_at_todays_prices_with_its_link(app, db_session,
                                                                    monkeypatch):
    monkeypatch.setitem(app.config, "CART_URL", "https://app.example/cart/{cart_id}")
    user = customer(db_session)
    serum = make_variant(db_session, price=1200, name="MOIST Hyaluronic Acid Serum")
    cart = idle_cart(db_session, user, items=[(serum, 2)])
    serum.price_amount = 1500  # dearer since it went in the cart
    db_session.flush()
    now = utcnow()
    assert run(db_session, now) == 1
    [email] = emails(db_session)
    assert (email.to, email.subject) == (user.email, SUBJECT)
    assert "2 x MOIST Hyaluronic Acid Serum - 30 ml: £30.00" in email.text
    assert "£24.00" not in email.text
    assert f"https://app.example/cart/{cart.id}" in email.text
    assert STOP in email.text and STOP in email.html
    assert "Hello Ada," in email.text and "£30.00" in email.html
    assert email.dedupe_key == f"cart-reminder:{cart.id}:{cart.updated_at.isoformat()}"
    assert db_session.get(Cart, cart.id).reminded_at == now
    assert run(db_session) == 0
    assert run(db_session, now + timedelta(days=5)) == 0  # unchanged: never again
    assert len(emails(db_session)) == 1


@pytest.mark.parametrize("withdrawal", ["consent", "deletion"])
def test_a_queued_reminder_is_not_sent_once_the_customer_withdraws(db_session, withdrawal):
    """Queued (SMTP down, say) when consent is withdrawn or the account deleted: dropped from
    the outbox. Other emails to the customer stay."""
    user = customer(db_session)
    idle_cart(db_session, user)
    assert run(db_session) == 1
    notifications.enqueue_email(session=db_session, to=user.email, subject="Your order",
                                text="Paid.", dedupe_key=f"not-marketing:{user.id}")
    if withdrawal == "consent":
        accounts.update_profile(session=db_session, user=user,
                                changes={"marketing_consent": False})
    else:
        accounts.delete_account(session=db_session, user=user)
    db_session.flush()
    assert emails(db_session) == []
    assert db_session.scalar(select(OutboxEmail).where(
        OutboxEmail.dedupe_key == f"not-marketing:{user.id}")) is not None


def test_the_reminder_carries_a_link_that_unsubscribes(app, client, db_session,
                                                       monkeypatch):
    monkeypatch.setitem(app.config, "MARKETING_UNSUBSCRIBE_URL",
                        "https://app.example/unsubscribe?t={token}")
    user = customer(db_session)
    idle_cart(db_session, user)
    assert run(db_session) == 1
    [email] = emails(db_session)
    token = unquote(re.search(r"https://app\.example/unsubscribe\?t=(\S+)", email.text)[1])
    assert "open this link" in email.html
    db_session.commit()
    assert_problem(client.post("/api/v1/auth/unsubscribe", json={"token": token + "x"}), 400,
                   "invalid_unsubscribe_token")
    for _ in range(2):  # harmless twice
        left = client.post("/api/v1/auth/unsubscribe", json={"token": token})
        assert left.status_code == 200 and left.json == {"marketing_consent": False}
    db_session.expire_all()
    assert db_session.get(type(user), user.id).marketing_consent is False
    assert emails(db_session) == []  # the reminder still queued went with it


def test_an_unsubscribe_link_for_an_address_the_account_left_does_nothing(
        app, client, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "MARKETING_UNSUBSCRIBE_URL", "https://app.example/u/{token}")
    user = customer(db_session)
    with app.test_request_context():
        link = marketing.unsubscribe_link(user)
    user.email = "new.address@example.com"
    db_session.commit()
    token = unquote(link.rsplit("/", 1)[1])
    assert_problem(client.post("/api/v1/auth/unsubscribe", json={"token": token}), 400,
                   "invalid_unsubscribe_token")
    db_session.expire_all()
    assert db_session.get(type(user), user.id).marketing_consent is True


def test_the_reminder_offers_one_click_unsubscribe_with_the_links_token(
        app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_API_URL", API)
    monkeypatch.setitem(app.config, "MARKETING_UNSUBSCRIBE_URL", "https://app.example/u/{token}")
    idle_cart(db_session, customer(db_session))
    assert run(db_session) == 1
    [email] = emails(db_session)
    token = unquote(re.search(r"https://app\.example/u/(\S+)", email.text)[1])
    assert email.headers == {
        "List-Unsubscribe": f"<{API}/api/v1/auth/unsubscribe/one-click?token={token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def test_without_public_api_url_the_reminder_has_no_list_unsubscribe(app, db_session,
                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "MARKETING_UNSUBSCRIBE_URL", "https://app.example/u/{token}")
    idle_cart(db_session, customer(db_session))
    assert run(db_session) == 1
    [email] = emails(db_session)
    assert email.headers is None and "https://app.example/u/" in email.text


def test_without_cart_url_the_email_says_to_sign_in(db_session):
    idle_cart(db_session, customer(db_session))
    assert run(db_session) == 1
    [email] = emails(db_session)
    assert "Sign in to the shop to see your cart." in email.text and "http" not in email.text


def test_a_change_after_the_reminder_rearms_it_but_not_within_the_customers_gap(db_session):
    user = customer(db_session)
    serum = make_variant(db_session, stock=10)
    cart = idle_cart(db_session, user, items=[(serum, 1)])
    reminded = utcnow()
    assert run(db_session, reminded) == 1
    carts.add_item(session=db_session, cart_id=cart.id, user=user, sku=serum.sku, quantity=2)
    assert run(db_session, reminded + timedelta(hours=25)) == 0  # idle again, but within 72 h
    assert run(db_session, reminded + timedelta(hours=73)) == 1
    first, second = emails(db_session, user.email)
    assert "1 x " in first.text and "3 x " in second.text
    assert first.dedupe_key != second.dedupe_key


def test_a_customer_gets_one_reminder_per_gap_whatever_the_cart(db_session):
    user = customer(db_session)
    first = idle_cart(db_session, user, hours=40)
    second = Cart(id=carts.new_cart_id(), user_id=user.id, status="open")  # a reopened one
    db_session.add(second)
    db_session.flush()
    carts.add_item(session=db_session, cart_id=second.id, user=user,
                   sku=make_variant(db_session).sku, quantity=1)
    left(db_session, second)
    now = utcnow()
    assert run(db_session, now) == 1
    assert [email.dedupe_key.split(":")[1] for email in emails(db_session)] == [first.id]
    assert run(db_session, now + timedelta(hours=71)) == 0
    assert run(db_session, now + timedelta(hours=73)) == 1
    assert len(emails(db_session, user.email)) == 2


def test_lines_that_cannot_be_bought_now_are_left_out(db_session):
    user = customer(db_session)
    archived = make_variant(db_session, name="Retired Toner")
    sold_out = make_variant(db_session, stock=1, name="Last Cleanser")
    short = make_variant(db_session, stock=3, name="Vitamin C Serum")
    kept = make_variant(db_session, name="Barrier Cream")
    idle_cart(db_session, user, items=[(archived, 1), (sold_out, 1), (short, 3), (kept, 1)])
    archived.product.status = "archived"
    place_order(db_session, [(sold_out, 1)])  # someone else takes the last one
    place_order(db_session, [(short, 1)])
    db_session.flush()
    assert run(db_session) == 1
    [email] = emails(db_session)
    assert "Retired Toner" not in email.text and "Last Cleanser" not in email.text
    assert "3 x Vitamin C Serum - 30 ml: £36.00 (only 2 left)" in email.text
    assert "1 x Barrier Cream - 30 ml: £12.00" in email.text


def _nothing_left(session, user):
    archived, sold_out = make_variant(session), make_variant(session, stock=1)
    idle_cart(session, user, items=[(archived, 1), (sold_out, 1)])
    archived.product.status = "archived"
    inventory.record_movement(session=session, variant_id=sold_out.id, quantity=-1,
                              reason="damaged")


def _checked_out(session, user):
    order = place_order(session, [(make_variant(session), 1)], user=user).order
    left(session, session.get(Cart, order.cart_id))


NO_EMAIL = {
    "no marketing consent": lambda s: idle_cart(s, customer(s, consent=False)),
    "address not proved": lambda s: idle_cart(s, customer(s, verified=False)),
    "account disabled": lambda s: idle_cart(s, customer(s, disabled_at=utcnow())),
    "account deleted": lambda s: idle_cart(s, customer(s, deleted_at=utcnow())),
    "guest cart": lambda s: idle_cart(s, None),
    "empty cart": lambda s: left(s, make_cart(s, [], user=customer(s))),
    "checked out": lambda s: _checked_out(s, customer(s)),
    "changed too recently": lambda s: idle_cart(s, customer(s), hours=23),
    "left over 7 days ago": lambda s: idle_cart(s, customer(s), hours=7 * 24 + 1),
    "nothing left to buy": lambda s: _nothing_left(s, customer(s)),
}


@pytest.mark.parametrize("case", NO_EMAIL.values(), ids=NO_EMAIL.keys())
def test_no_email(db_session, case):
    case(db_session)
    assert run(db_session) == 0
    assert emails(db_session) == []


def test_zero_hours_turns_reminders_off(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "CART_REMINDER_AFTER_HOURS", 0)
    idle_cart(db_session, customer(db_session))
    assert run(db_session) == 0
    assert emails(db_session) == []


def test_the_threshold_is_a_setting(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "CART_REMINDER_AFTER_HOURS", 2)
    idle_cart(db_session, customer(db_session), hours=3)
    assert run(db_session) == 1


# --- committed: the worker, the outbox and SMTP --------------------------------------------

def committed_idle_cart(app, *, carts_of_one_customer: int = 1) -> str:
    with app.app_context():
        user = customer(db.session)
        for hours in range(30, 30 + carts_of_one_customer):
            cart = Cart(id=carts.new_cart_id(), user_id=user.id, status="open")
            db.session.add(cart)
            db.session.flush()
            carts.add_item(session=db.session, cart_id=cart.id, user=user,
                           sku=make_variant(db.session, price=2500).sku, quantity=1)
            left(db.session, cart, hours)
        db.session.commit()
        address = user.email
        db.session.remove()
    return address


def test_the_reminder_reaches_the_customer_by_smtp(app, committed, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    monkeypatch.setitem(app.config, "CART_URL", "https://app.example/cart/{cart_id}")
    address = committed_idle_cart(app)
    assert run_job(app, "carts.reminders") == 1
    assert run_job(app, "send_outbox") == 1
    [message] = smtp_server.wait_for(1)
    assert (message["To"], message["Subject"]) == (address, SUBJECT)
    text = message.get_body(("plain",)).get_content()
    assert "£25.00" in text and "https://app.example/cart/" in text and STOP in text
    assert STOP in message.get_body(("html",)).get_content()
    assert "List-Unsubscribe" not in message  # no PUBLIC_API_URL: no one-click address
    assert run_job(app, "carts.reminders") == 0


def one_click_path(message) -> str:
    """The path and query of the message's List-Unsubscribe URL, as the header holds it
    (unfolded, not RFC 2047-encoded: mail providers read it as it is)."""
    raw = dict(message.raw_items())["List-Unsubscribe"]
    url = re.fullmatch(r"<(https://\S+)>", raw)[1]
    assert url.startswith(f"{API}/api/v1/auth/unsubscribe/one-click?token=")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def consents(app, address: str) -> bool:
    with app.app_context():
        consent = db.session.scalar(select(User.marketing_consent).where(User.email == address))
        db.session.remove()
    return consent


def test_the_mail_provider_unsubscribes_with_one_click_by_smtp(app, committed, smtp_server,
                                                               monkeypatch):
    """RFC 8058: the provider POSTs List-Unsubscribe=One-Click to the header's URL, with no
    cookie or sign-in; a second press (or a retry) answers 200 too."""
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    monkeypatch.setitem(app.config, "PUBLIC_API_URL", API)
    address = committed_idle_cart(app)
    assert run_job(app, "carts.reminders") == 1
    assert run_job(app, "send_outbox") == 1
    [message] = smtp_server.wait_for(1)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = one_click_path(message)
    client = app.test_client()
    for _ in range(2):
        response = client.post(path, data=ONE_CLICK)  # application/x-www-form-urlencoded
        assert response.status_code == 200 and response.json == {"marketing_consent": False}
        assert consents(app, address) is False


def test_transactional_email_carries_no_list_unsubscribe(app, committed, smtp_server,
                                                         monkeypatch):
    """Only marketing offers to unsubscribe: an order confirmation or a password reset is
    sent whatever the customer's marketing consent."""
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_server.url)
    monkeypatch.setitem(app.config, "PUBLIC_API_URL", API)
    address = committed_idle_cart(app)
    assert run_job(app, "carts.reminders") == 1
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == address))
        order = place_order(db.session, [(make_variant(db.session), 1)], user=user).order
        orders.mark_paid(session=db.session, order_id=order.id,
                         amount_received=order.amount_due, reference="pi_one_click")
        password_reset.request_reset(session=db.session, email=address)
        db.session.commit()
        db.session.remove()
    assert run_job(app, "accounts.password_resets") == 1
    assert run_job(app, "send_outbox") == 3
    offered = {message["Subject"]: "List-Unsubscribe" in message
               for message in smtp_server.wait_for(3)}
    assert offered.pop(SUBJECT) is True
    assert len(offered) == 2 and not any(offered.values()), offered


@pytest.mark.postgresql_only
def test_two_workers_at_once_send_one_reminder(pooled_app, monkeypatch):
    race_app = pooled_app(4)
    # two carts of one customer, one per pass: each worker could take one, but the account is
    # locked with the cart
    address = committed_idle_cart(race_app, carts_of_one_customer=2)
    monkeypatch.setattr(jobs, "REMINDER_BATCH", 1)

    compose = reminders.reminder

    def slow_reminder(*args):
        time.sleep(0.3)  # both passes have taken their rows before either commits
        return compose(*args)

    monkeypatch.setattr(reminders, "reminder", slow_reminder)
    start = threading.Barrier(2)
    counts, errors = [], []

    def work() -> None:
        try:
            start.wait(5)
            counts.append(run_job(race_app, "carts.reminders"))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and sorted(counts) == [0, 1]
    with race_app.app_context():
        assert len(emails(db.session, address)) == 1
        db.session.remove()


def test_carts_are_in_the_export_and_go_with_the_account(client, db_session):
    user = customer(db_session)
    headers = bearer_for(db_session, user)
    cart_id = idle_cart(db_session, user).id
    assert run(db_session) == 1
    db_session.commit()
    [exported] = client.get("/api/v1/me/export", headers=headers).json["carts"]
    assert exported["status"] == "open" and exported["reminded_at"] is not None
    assert exported["items"][0]["quantity"] == 1
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    db_session.expire_all()
    assert db_session.get(Cart, cart_id) is None
