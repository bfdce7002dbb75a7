"""The clinic's voucher liability: what issued vouchers are still worth, by kind, source (bought,
given by the clinic, store credit) and expiry month.

Outstanding means active and not yet past expiry; a treatment voucher counts at its value
at purchase, a money voucher at its balance (amounts held for unpaid orders included: they
are not spent until the order is paid). Expired, redeemed and void vouchers owe nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from shop.db import is_postgresql
from shop.money import Money
from shop.vouchers.models import Voucher


def _expiry_month(session: Session):
    if is_postgresql(session):
        utc = func.timezone(literal_column("'UTC'"), Voucher.expires_at)
        return func.to_char(utc, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), Voucher.expires_at)


def liability_rows(*, session: Session, now: datetime) -> list[dict]:
    """One row per kind, source, expiry month and currency, ordered by month."""
    month = _expiry_month(session).label("expiry_month")
    stmt = (
        select(Voucher.kind, Voucher.source, month, Voucher.currency, func.count(Voucher.id),
               func.sum(Voucher.balance_amount))
        .where(Voucher.status == "active", Voucher.expires_at > now, Voucher.balance_amount > 0)
        .group_by(Voucher.kind, Voucher.source, month, Voucher.currency)
        .order_by(month, Voucher.kind, Voucher.source, Voucher.currency)
    )
    return [
        {"kind": kind, "source": source, "expiry_month": expiry_month, "vouchers": count,
         "outstanding": Money(int(total), currency)}
        for kind, source, expiry_month, currency, count, total in session.execute(stmt)
    ]


def _group(rows: list[dict], key: str) -> list[dict]:
    grouped: dict[tuple, dict] = {}
    for row in rows:
        money = row["outstanding"]
        slot = grouped.setdefault((row[key], money.currency), {
            key: row[key], "vouchers": 0, "outstanding": Money.zero(money.currency)})
        slot["vouchers"] += row["vouchers"]
        slot["outstanding"] = slot["outstanding"] + money
    return [grouped[k] for k in sorted(grouped)]


def liability(*, session: Session, now: datetime) -> dict:
    """Totals per currency, by kind and by month of expiry, plus the detailed rows."""
    rows = liability_rows(session=session, now=now)
    totals: dict[str, dict] = {}
    for row in rows:
        money = row["outstanding"]
        total = totals.setdefault(
            money.currency, {"vouchers": 0, "outstanding": Money.zero(money.currency)})
        total["vouchers"] += row["vouchers"]
        total["outstanding"] = total["outstanding"] + money
    return {
        "as_of": now,
        "totals": [totals[currency] for currency in sorted(totals)],
        "by_kind": _group(rows, "kind"),
        "by_source": _group(rows, "source"),
        "by_expiry_month": _group(rows, "expiry_month"),
        "rows": rows,
    }
