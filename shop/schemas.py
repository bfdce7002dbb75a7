"""Schema pieces every domain shares: money, pages of results, hand-written dumps."""

from datetime import UTC, datetime

import marshmallow as ma

from shop.money import MoneySchema


def not_blank(value: str) -> None:
    """A validator: a string that is more than whitespace."""
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


# The instants a client may send. Python's datetime ends in year 9999, and the code steps past
# what it is given: a date range's exclusive end is the next day, the sales report's default
# window starts 30 days before its end, and an instant is converted to UTC before PostgreSQL
# stores it (9999-12-31T23:59-12:00 is in year 10000 there). Each was a 500 at the edges.
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9999, 1, 1, tzinfo=UTC)
INSTANT_RANGE_MESSAGE = "Must be between 1900-01-01 and 9999-01-01 (UTC)."
instant_in_range = ma.validate.Range(min=EARLIEST_INSTANT, max=LATEST_INSTANT,
                                     error=INSTANT_RANGE_MESSAGE)


def money_field(**kwargs) -> ma.fields.Nested:
    return ma.fields.Nested(MoneySchema, **kwargs)


class PageArgsSchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=10_000))
    per_page = ma.fields.Integer(load_default=24, validate=ma.validate.Range(min=1, max=100))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The list envelope: {"items", "page", "per_page", "total"}."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "page": ma.fields.Integer(required=True),
            "per_page": ma.fields.Integer(required=True),
            "total": ma.fields.Integer(required=True),
        },
        name=name,
    )


class HandDumpedSchema(ma.Schema):
    """A response schema whose subclass writes its dump out by hand in a method
    `document(obj) -> dict`: for documents read on every request of a hot path, where
    marshmallow's generic walk over a dozen nested schemas (Money in every price) cost as much
    as the request's SQL statements. The fields stay what the OpenAPI document shows; a parity
    test per schema compares `dump` with marshmallow's own (`ma.Schema.dump(schema, obj)`) for
    every kind of object. `only` and `exclude` take marshmallow's path."""

    def dump(self, obj, *, many: bool | None = None):
        if self.only or self.exclude:
            return super().dump(obj, many=many)
        if self.many if many is None else many:
            return [self.document(item) for item in obj]
        return self.document(obj)


def iso_datetime(value: datetime | None) -> str | None:
    """As ma.fields.DateTime dumps it."""
    return None if value is None else value.isoformat()
