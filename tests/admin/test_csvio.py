"""The shared CSV helper: content negotiation, flattening, formula neutralising."""

from __future__ import annotations

import marshmallow as ma
import pytest

from shop import csvio
from shop.schemas import money_field


class Line(ma.Schema):
    sku = ma.fields.String()
    price = money_field(allow_none=True)
    tags = ma.fields.List(ma.fields.String())
    meta = ma.fields.Dict()
    active = ma.fields.Boolean()


@pytest.mark.parametrize("accept, format, expected", [
    ("text/csv", None, True),
    ("application/json", None, False),
    ("*/*", None, False),
    ("text/csv;q=0.5, application/json", None, False),
    ("application/json", "csv", True),
    ("text/csv", "json", False),
])
def test_wants_csv(app, accept, format, expected):
    with app.test_request_context(headers={"Accept": accept}):
        assert csvio.wants_csv(format) is expected


def test_columns_and_rows_follow_the_schema():
    schema = Line()
    assert csvio.schema_columns(schema) == [
        "sku", "price.amount", "price.currency", "tags", "meta", "active"]
    row = csvio.flatten(schema.dump({
        "sku": "A-1", "price": {"amount": 100, "currency": "GBP"}, "tags": ["x", "y"],
        "meta": {"k": 1}, "active": True}), schema)
    assert row == {"sku": "A-1", "price.amount": 100, "price.currency": "GBP", "tags": "x|y",
                   "meta": '{"k":1}', "active": "true"}
    empty = csvio.flatten(schema.dump({"sku": "B", "price": None}), schema)
    assert empty["price.amount"] == "" and empty["price.currency"] == ""


@pytest.mark.parametrize("value", ["=1+1", "+44 20", "-2", "@SUM(A1)", "\tx"])
def test_formula_cells_round_trip(value):
    text = csvio.write_csv([{"v": value}], ["v"])
    assert "'" + value in text
    _, rows = csvio.read_csv(text)
    assert rows[0][1]["v"] == value


def test_numbers_are_not_quoted():
    assert csvio.escape_cell(-2) == -2
    assert csvio.unescape_cell("'plain") == "'plain"
