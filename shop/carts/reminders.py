"""One email about a cart a signed-in customer left: marketing under PECR, so only to an
account that agreed to it, is active and proved its address; once per cart until it changes
again, and at most once per CART_REMINDER_MIN_GAP_HOURS per customer, whatever the cart.

The lines are priced as the cart prices them now; what can no longer be bought is left out,
and a cart with nothing left to buy gets no email.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, delete, exists, or_, select
from sqlalchemy.orm import Session, aliased, lazyload

from shop.accounts import marketing
from shop.accounts import services as accounts
from shop.accounts.models import User
from shop.carts import pricing, services
from shop.carts.models import Cart, CartItem
from shop.catalogue.models import Product, Variant
from shop.db import PLAN_WITH_VALUES, as_utc
from shop.inventory.models import StockLevel
from shop.notifications import services as notifications
from shop.notifications.models import OutboxEmail
from shop.orders.emails import format_money, letter

MAX_AGE = timedelta(days=7)  # a cart left longer than this is not reminded at all
GONE = {pricing.UNAVAILABLE, pricing.OUT_OF_STOCK}
CART_ID_PLACEHOLDER = "{cart_id}"
DEDUPE_PREFIX = "cart-reminder:"


def withdraw_queued(*, session: Session, user: User) -> None:
    """Reminders to the account still waiting in the outbox (say, SMTP was down) are not sent
    once it withdrew marketing consent or was deleted."""
    session.execute(delete(OutboxEmail).where(
        OutboxEmail.status == "pending", OutboxEmail.to == user.email,
        OutboxEmail.dedupe_key.startswith(DEDUPE_PREFIX, autoescape=True))
        .execution_options(synchronize_session=False))


def register_hooks() -> None:
    """Hook into the accounts domain (once per process)."""
    for hooks in (accounts.on_marketing_withdrawn, accounts.on_account_deleted):
        if withdraw_queued not in hooks:
            hooks.append(withdraw_queued)


def send_due(*, session: Session, now: datetime, limit: int) -> int:
    """Queue the reminder of every cart due one (up to `limit`); how many were queued."""
    config = current_app.config
    if not config["CART_REMINDER_AFTER_HOURS"]:
        return 0
    since = now - timedelta(hours=config["CART_REMINDER_MIN_GAP_HOURS"])
    due = _due(now - timedelta(hours=config["CART_REMINDER_AFTER_HOURS"]), now - MAX_AGE,
               since, limit)
    sent = 0
    for cart, user in session.execute(due).all():
        # Asked again with the account's row locked: another worker that reminded another of
        # its carts has committed by now, and one in this batch has been flushed.
        if not _reminded_since(session, user, since) and _remind(session, cart, user, now):
            sent += 1
    return sent


def _due(idle_since: datetime, oldest: datetime, since: datetime, limit: int) -> Select:
    """Open carts of consenting, active, proved accounts, idle between `oldest` and
    `idle_since`, not reminded since their last change, holding something on sale and in
    stock, whose customer was not reminded since `since`. Each cart and its account is locked
    (another worker skips both); NO KEY UPDATE, as a login or an order referring to the
    account must not wait for the job. Planned for its values (shop.db.plan_with_values): a
    generic plan, with the status a parameter, cannot use the partial index of customers'
    open carts."""
    return (
        select(Cart, User).join(User, User.id == Cart.user_id)
        .where(Cart.status == "open", Cart.user_id.is_not(None),
               Cart.updated_at < idle_since, Cart.updated_at > oldest,
               or_(Cart.reminded_at.is_(None), Cart.reminded_at < Cart.updated_at),
               User.marketing_consent.is_(True), User.email_verified_at.is_not(None),
               User.disabled_at.is_(None), User.deleted_at.is_(None),
               _something_to_buy(), ~_reminded_lately(Cart.user_id, since))
        .order_by(Cart.updated_at, Cart.id).limit(limit)
        .options(lazyload(Cart.items))
        .with_for_update(of=(Cart, User), skip_locked=True, key_share=True)
        .execution_options(populate_existing=True, **{PLAN_WITH_VALUES: True})
    )


def _something_to_buy():
    """The cart has a line on sale with stock free (a gift voucher is never stocked): what
    pricing would not flag unavailable or out of stock, so carts with nothing to offer are
    not read again and again."""
    in_stock = exists().where(StockLevel.variant_id == Variant.id,
                              StockLevel.on_hand - StockLevel.reserved > 0)
    return (
        exists().where(CartItem.cart_id == Cart.id, Variant.id == CartItem.variant_id,
                       Product.id == Variant.product_id, Product.status == "active",
                       Variant.is_active.is_(True),
                       or_(Variant.voucher_kind.is_not(None), in_stock))
    )


def _reminded_lately(user_id, since: datetime):
    other = aliased(Cart)
    return exists().where(other.user_id == user_id, other.reminded_at > since)


def _reminded_since(session: Session, user: User, since: datetime) -> bool:
    return bool(session.scalar(select(_reminded_lately(user.id, since))))


def _remind(session: Session, cart: Cart, user: User, now: datetime) -> bool:
    """Queue the email and mark the cart reminded; False (nothing done) when nothing in it can
    be bought now after all."""
    cart = services.get_cart(session=session, cart_id=cart.id, user=user)
    lines = [line for line in services.price(cart).lines if not GONE & set(line.problems)]
    if not lines:
        return False
    subject, text, html = reminder(user, lines, cart_link(cart.id),
                                   marketing.unsubscribe_link(user))
    notifications.enqueue_email(
        session=session, to=user.email, subject=subject, text=text, html=html,
        headers=marketing.list_unsubscribe_headers(user),
        dedupe_key=f"{DEDUPE_PREFIX}{cart.id}:{as_utc(cart.updated_at).isoformat()}")
    cart.reminded_at = now  # updated_at stays: a change by the customer re-arms the reminder
    session.flush()
    return True


def cart_link(cart_id: str) -> str | None:
    """CART_URL with the cart's id in place of {cart_id} (as it is without one); None when
    unset."""
    template = current_app.config["CART_URL"]
    return template.replace(CART_ID_PLACEHOLDER, cart_id) if template else None


def reminder(user: User, lines: list[pricing.PricedLine], link: str | None,
             unsubscribe: str | None = None) -> tuple[str, str, str]:
    """(subject, text, html) of the email: the lines at today's prices, where to find the
    cart, and how to stop such emails. No discount: it is a reminder, not an offer."""
    items = [_item(line) for line in lines]
    paragraphs = [f"Hello {user.name}," if user.name else "Hello,",
                  "You left these in your GLOW Clinic cart. They are still there for you, at "
                  "today's prices:"]
    closing = [
        f"See your cart: {link}" if link else "Sign in to the shop to see your cart.",
        "Prices and stock can change until you check out.",
        "You get emails like this because you agreed to hear from GLOW Clinic. To stop them, "
        "turn off marketing emails in your account"
        + (f" or open this link: {unsubscribe}" if unsubscribe else "."),
    ]
    return ("You left something in your GLOW Clinic cart",
            *letter("Your cart is waiting", paragraphs, items, closing))


def _item(priced: pricing.PricedLine) -> str:
    line = priced.line
    text = f"{line.quantity} x {line.name}: {format_money(priced.line_total)}"
    if pricing.INSUFFICIENT_STOCK in priced.problems:
        text += f" (only {line.available} left)"
    return text
