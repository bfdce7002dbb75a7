"""Schema pieces every domain shares: money, pages of results."""

import marshmallow as ma

from shop.money import MoneySchema


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
