"""Leaving the marketing list from the email itself: every marketing email carries a signed
link (itsdangerous, nothing stored) that turns the account's marketing consent off, signed
in or not, as the ICO expects of a marketing message under PECR."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from shop.accounts import codes
from shop.accounts import services as accounts
from shop.accounts.models import User
from shop.errors import BadRequest

SALT = "shop.accounts.marketing-unsubscribe"


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def unsubscribe_link(user: User) -> str | None:
    """MARKETING_UNSUBSCRIBE_URL with this account's token; None when it is not set. The
    token does not expire (an old email's link must still work) and only ever unsubscribes."""
    return codes.mailed_link("MARKETING_UNSUBSCRIBE_URL",
                             _signer().dumps({"user": user.id, "email": user.email}))


def unsubscribe(*, session: Session, token: str) -> None:
    """Turn the account's marketing consent off (harmless twice); queued marketing to it is
    dropped (accounts.on_marketing_withdrawn)."""
    try:
        claim = _signer().loads(token)
    except BadSignature:
        raise _invalid() from None
    user = session.get(User, claim.get("user")) if isinstance(claim, dict) else None
    if user is None or user.email != claim.get("email"):  # the address changed, or deleted
        raise _invalid()
    accounts.update_profile(session=session, user=user, changes={"marketing_consent": False})


def _invalid() -> BadRequest:
    return BadRequest("This unsubscribe link is invalid, or the account's address changed "
                      "since: turn marketing emails off in your account.",
                      code="invalid_unsubscribe_token", errors={"token": ["Invalid."]})
