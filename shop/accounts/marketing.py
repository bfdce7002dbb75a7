"""Leaving the marketing list from the email itself: every marketing email carries a signed
link (itsdangerous, nothing stored) that turns the account's marketing consent off, signed
in or not, as the ICO expects of a marketing message under PECR. The same token goes in its
List-Unsubscribe header (RFC 2369), which the mail provider's own unsubscribe button POSTs
to (one-click, RFC 8058), as Gmail and Yahoo require of bulk senders."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from shop import keyring
from shop.accounts import codes
from shop.accounts import services as accounts
from shop.accounts.models import User
from shop.errors import BadRequest, NotFound

SALT = "shop.accounts.marketing-unsubscribe"
ONE_CLICK_ENDPOINT = "accounts_auth.unsubscribe_one_click"
ONE_CLICK = "List-Unsubscribe=One-Click"


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(keyring.signing_keys(), salt=SALT)


def _token(user: User) -> str:
    """The account's unsubscribe token. It does not expire (an old email's link must still
    work) and only ever unsubscribes."""
    return _signer().dumps({"user": user.id, "email": user.email})


def unsubscribe_link(user: User) -> str | None:
    """MARKETING_UNSUBSCRIBE_URL with this account's token; None when it is not set."""
    return codes.mailed_link("MARKETING_UNSUBSCRIBE_URL", _token(user))


def unsubscribe_page(token: str) -> str:
    """Where a browser opening the List-Unsubscribe URL goes: the storefront's unsubscribe
    page with the same token, which asks before it unsubscribes."""
    link = codes.mailed_link("MARKETING_UNSUBSCRIBE_URL", token)
    if link is None:
        raise NotFound("There is no unsubscribe page; answer the email instead.",
                       code="no_unsubscribe_page")
    return link


def list_unsubscribe_headers(user: User) -> dict[str, str]:
    """The header fields offering one-click unsubscribe to this account's mail provider: a
    POST to PUBLIC_API_URL's one-click route with the account's token. None at all without
    PUBLIC_API_URL: the frontend's page cannot take a provider's POST."""
    base = current_app.config["PUBLIC_API_URL"]
    if not base:
        return {}
    path = current_app.url_map.bind("").build(ONE_CLICK_ENDPOINT, {"token": _token(user)})
    return {"List-Unsubscribe": f"<{base}{path}>", "List-Unsubscribe-Post": ONE_CLICK}


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
