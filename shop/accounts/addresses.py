"""A customer's small address book: UK postcodes checked and normalised, ISO country codes."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shop.accounts.models import Address, User
from shop.errors import Conflict, NotFound, ValidationFailed

MAX_ADDRESSES = 20
# Countries that use the UK postcode system (the Crown Dependencies included).
UK_POSTCODE_COUNTRIES = frozenset({"GB", "GG", "IM", "JE"})
# Outward code (area, district, optional sub-district) and inward code (sector, unit), with
# the letters Royal Mail never uses in each position excluded.
UK_POSTCODE = re.compile(
    r"^(GIR0AA|(?:[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r"[0-9][ABD-HJLNP-UW-Z]{2})$"
)
OTHER_POSTCODE = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,9}$")
ISO_COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
ZW
""".split())
TEXT_FIELDS = ("name", "line1", "line2", "city", "phone")


def normalise_postcode(postcode: str, country: str) -> str:
    """'sw1a1aa' -> 'SW1A 1AA' for UK postcodes; raises ValidationFailed when malformed."""
    compact = re.sub(r"\s+", "", postcode).upper()
    if country in UK_POSTCODE_COUNTRIES:
        if not UK_POSTCODE.match(compact):
            raise ValidationFailed(
                "The postcode is not a valid UK postcode.", code="invalid_postcode",
                errors={"postcode": ["Enter a UK postcode such as SW1A 1AA."]},
            )
        return f"{compact[:-3]} {compact[-3:]}"
    cleaned = " ".join(postcode.upper().split())
    if not OTHER_POSTCODE.match(cleaned):
        raise ValidationFailed(
            "The postcode is not valid.", code="invalid_postcode",
            errors={"postcode": ["Enter a valid postcode."]},
        )
    return cleaned


def normalise_country(country: str) -> str:
    code = country.strip().upper()
    if code not in ISO_COUNTRIES:
        raise ValidationFailed(
            "The country is not an ISO 3166-1 alpha-2 code.", code="invalid_country",
            errors={"country": ["Use a two-letter ISO 3166-1 country code such as GB."]},
        )
    return code


def list_addresses(*, session: Session, user: User) -> list[Address]:
    return list(session.scalars(
        select(Address).where(Address.user_id == user.id).order_by(Address.id)
    ))


def get_address(*, session: Session, user: User, address_id: int) -> Address:
    address = session.get(Address, address_id)
    if address is None or address.user_id != user.id:
        raise NotFound("No such address in your address book.", code="address_not_found")
    return address


def create_address(*, session: Session, user: User, data: dict[str, Any]) -> Address:
    count = session.scalar(select(func.count(Address.id)).where(Address.user_id == user.id))
    if count >= MAX_ADDRESSES:
        raise Conflict(
            f"The address book holds at most {MAX_ADDRESSES} addresses.",
            code="address_book_full",
        )
    country = normalise_country(data.get("country", "GB"))
    address = Address(
        user_id=user.id, country=country,
        postcode=normalise_postcode(data["postcode"], country),
        **{name: data.get(name, "").strip() for name in TEXT_FIELDS},
    )
    session.add(address)
    session.flush()
    if data.get("is_default") or count == 0:
        make_default(session=session, user=user, address=address)
    return address


def update_address(
    *, session: Session, user: User, address_id: int, changes: dict[str, Any]
) -> Address:
    address = get_address(session=session, user=user, address_id=address_id)
    country = normalise_country(changes.get("country", address.country))
    if "postcode" in changes or country != address.country:
        address.postcode = normalise_postcode(changes.get("postcode", address.postcode), country)
    address.country = country
    for name in TEXT_FIELDS:
        if name in changes:
            setattr(address, name, changes[name].strip())
    if changes.get("is_default") is True:
        make_default(session=session, user=user, address=address)
    elif changes.get("is_default") is False and address.is_default:
        clear_default(session=session, user=user)
    session.flush()
    return address


def delete_address(*, session: Session, user: User, address_id: int) -> None:
    address = get_address(session=session, user=user, address_id=address_id)
    session.delete(address)
    session.flush()


def clear_default(*, session: Session, user: User) -> None:
    session.execute(
        update(Address)
        .where(Address.user_id == user.id, Address.is_default.is_(True))
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )


def make_default(*, session: Session, user: User, address: Address) -> None:
    """One default per user: the old one is cleared first (a partial unique index checks)."""
    clear_default(session=session, user=user)
    session.flush()
    address.is_default = True
    session.flush()
