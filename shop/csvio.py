"""CSV for people with spreadsheets: every admin list answers CSV, the catalogue round-trips.

A list route returns `page_or_csv(...)`: JSON callers get one page in the usual envelope;
CSV callers (`Accept: text/csv` or `?format=csv`) get every matching row, with columns taken
from the same response schema (nested objects flatten to dotted names), so the two formats
cannot drift apart. Cells that a spreadsheet would run as a formula are quoted with a
leading apostrophe on the way out and unquoted on the way in (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import marshmallow as ma
from flask import Response, request
from flask_smorest import Blueprint
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shop.db import utcnow

CSV_MIMETYPE = "text/csv"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "|"
EXTRA_CELLS = "__extra__"

documents_csv = Blueprint.doc(
    responses={200: {"content": {CSV_MIMETYPE: {"schema": {"type": "string"}}}}}
)


class FormatArgsSchema(ma.Schema):
    """Mixed into every admin list's query schema."""

    format = ma.fields.String(
        validate=ma.validate.OneOf(("json", "csv")),
        metadata={"description": "csv: every matching row as CSV (same as Accept: text/csv)"},
    )


def wants_csv(format: str | None = None) -> bool:
    if format:
        return format == "csv"
    best = request.accept_mimetypes.best_match(["application/json", CSV_MIMETYPE])
    return best == CSV_MIMETYPE


def escape_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return LIST_SEPARATOR.join("" if item is None else str(item) for item in value)
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def _nested_schema(field: ma.fields.Field) -> ma.Schema | None:
    if isinstance(field, ma.fields.Nested) and not field.many:
        return field.schema
    return None


def schema_columns(schema: ma.Schema, prefix: str = "") -> list[str]:
    """The CSV header of a schema: nested objects flatten to dotted names, in field order."""
    columns: list[str] = []
    for name, field in schema.dump_fields.items():
        key = f"{prefix}{field.data_key or name}"
        nested = _nested_schema(field)
        columns += schema_columns(nested, f"{key}.") if nested else [key]
    return columns


def flatten(dumped: dict | None, schema: ma.Schema, prefix: str = "") -> dict[str, Any]:
    """{"price": {"amount": 1, "currency": "GBP"}} -> {"price.amount": 1, "price.currency": ...}."""
    flat: dict[str, Any] = {}
    for name, field in schema.dump_fields.items():
        key = field.data_key or name
        value = (dumped or {}).get(key)
        nested = _nested_schema(field)
        if nested:
            flat.update(flatten(value, nested, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = _cell(value)
    return flat


def write_csv(rows: Iterable[dict], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: escape_cell(value) for key, value in row.items()})
    return buffer.getvalue()


def read_csv(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and (line number, row) pairs. Cells are unescaped but not stripped: free
    text round-trips exactly; callers strip the fields where whitespace means nothing."""
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=EXTRA_CELLS)
    header = [name.strip() for name in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows = []
    for row in reader:
        cells = {
            key: unescape_cell(value) if isinstance(value, str) else value
            for key, value in row.items()
        }
        rows.append((reader.line_num, cells))
    return header, rows


def csv_response(text: str, filename: str) -> Response:
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    response = Response(text, mimetype=CSV_MIMETYPE)
    response.headers["Content-Type"] = f"{CSV_MIMETYPE}; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    response.headers["Vary"] = "Accept"
    return response


def items_csv(items: Iterable[Any], schema: ma.Schema, filename: str) -> Response:
    rows = (flatten(schema.dump(item), schema) for item in items)
    return csv_response(write_csv(rows, schema_columns(schema)), filename)


def page_or_csv(
    *,
    session: Session,
    stmt: Select,
    page: int,
    per_page: int,
    schema: ma.Schema,
    filename: str,
    format: str | None = None,
    item: Callable[[Any], Any] | None = None,
) -> dict | Response:
    """One page as {"items", "page", "per_page", "total"}, or every row as a CSV download.

    `stmt` selects one entity (its rows are the items) unless `item` maps each result row.
    """

    def fetch(statement: Select) -> list:
        if item is None:
            return list(session.scalars(statement).unique())
        return [item(row) for row in session.execute(statement)]

    if wants_csv(format):
        return items_csv(fetch(stmt), schema, filename)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = fetch(stmt.limit(per_page).offset((page - 1) * per_page))
    return {"items": items, "page": page, "per_page": per_page, "total": total or 0}
