"""A customer's skin profile (a skin type and up to MAX_SKIN_CONCERNS concerns) and the
clinic's routine for it, built by the catalogue as GET /routine builds it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User, UserSkinConcern
from shop.catalogue import services as catalogue
from shop.catalogue.models import Concern
from shop.errors import Conflict, ValidationFailed


def update(*, session: Session, user: User, changes: dict[str, Any]) -> None:
    """Set the skin type and/or the concerns (None or [] clears them). The caller holds the
    account's row (lock_signed_in_account): two saves at once take turns instead of inserting
    the same concern twice."""
    if "skin_type" in changes:
        user.skin_type = changes["skin_type"]
    if "concerns" in changes:
        concerns = _concerns_by_slug(session, changes["concerns"] or [])
        session.expire(user, ["skin_concern_rows"])  # as they are now, under the lock
        user.skin_concern_rows = [UserSkinConcern(concern=concern, position=position)
                                  for position, concern in enumerate(concerns)]
    session.flush()


def _concerns_by_slug(session: Session, slugs: list[str]) -> list[Concern]:
    found = {concern.slug: concern
             for concern in session.scalars(select(Concern).where(Concern.slug.in_(slugs)))}
    unknown = [slug for slug in slugs if slug not in found]
    if unknown:
        raise ValidationFailed("Unknown concern.",
                               errors={"concerns": [f"No concern '{slug}'." for slug in unknown]})
    return [found[slug] for slug in slugs]


def routine(*, session: Session, user: User) -> dict:
    """The catalogue's routine for the profile's skin type and its first concern (the
    routine favours products for one concern)."""
    if user.skin_type is None:
        raise Conflict("Your skin profile has no skin type: set it first (PATCH /me).",
                       code="skin_profile_missing")
    concerns = user.skin_concerns
    return catalogue.build_routine(session=session, skin_type=user.skin_type,
                                   concern=concerns[0] if concerns else None)
