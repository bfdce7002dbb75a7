"""Schema pieces the admin areas share: list arguments, date ranges, staff references."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import marshmallow as ma

from shop.csvio import FormatArgsSchema
from shop.db import as_utc
from shop.schemas import EARLIEST_INSTANT, INSTANT_RANGE_MESSAGE, LATEST_INSTANT, PageArgsSchema


class UtcDateTime(ma.fields.DateTime):
    """Always dumps with an offset (SQLite hands back naive UTC datetimes)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(as_utc(value) if value else value, attr, obj, **kwargs)


class AdminListArgsSchema(PageArgsSchema, FormatArgsSchema):
    """Paging plus `format=csv`; CSV ignores paging and answers every matching row."""


class DayOrInstant(ma.fields.Field):
    """An ISO date (a whole UTC day) or an ISO datetime (naive means UTC)."""

    default_error_messages = {"invalid": "Not a valid ISO date or datetime.",
                              "range": INSTANT_RANGE_MESSAGE}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            parsed = date.fromisoformat(value) if len(value) == 10 else \
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise self.make_error("invalid") from exc
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        if not EARLIEST_INSTANT <= start_of(parsed) <= LATEST_INSTANT:
            raise self.make_error("range")
        return parsed


def start_of(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, tzinfo=UTC)


def end_of(value: date | datetime) -> datetime:
    """Exclusive upper bound: a date `to` includes that whole day."""
    if isinstance(value, datetime):
        return value
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)


class DateRangeArgsSchema(ma.Schema):
    """`from` and `to`: dates include the whole UTC day, datetimes are exact (to exclusive)."""

    date_from = DayOrInstant(data_key="from")
    date_to = DayOrInstant(data_key="to")

    @ma.post_load
    def to_bounds(self, data: dict, **_: object) -> dict:
        if data.get("date_from") is not None:
            data["date_from"] = start_of(data["date_from"])
        if data.get("date_to") is not None:
            data["date_to"] = end_of(data["date_to"])
        if data.get("date_from") and data.get("date_to") and data["date_from"] >= data["date_to"]:
            raise ma.ValidationError("Must be before `to`.", "from")
        return data


class StaffRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)
    name = ma.fields.String()


def refund_method_field() -> ma.fields.String:
    return ma.fields.String(load_default="original", validate=ma.validate.OneOf(
        ("original", "store_credit")), metadata={
        "description": "original: back the way it was paid (gift vouchers first, then the "
        "card); store_credit: all of it as a new money gift voucher emailed to the customer "
        "(with their agreement; say, when the bank sent a card refund back)"})
