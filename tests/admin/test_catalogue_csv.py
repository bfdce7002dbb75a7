"""Catalogue CSV: export and import round-trip, edits, row-level errors, all-or-nothing."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from shop.audit.models import AuditEntry
from shop.catalogue.models import Product, Variant
from shop.catalogue_version import current_catalogue_version

EXPORT = "/api/v1/admin/catalogue/export"
IMPORT = "/api/v1/admin/catalogue/import"


def export(client, admin) -> str:
    response = client.get(EXPORT, headers=admin.headers)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return response.get_data(as_text=True)


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def to_csv(rows: list[dict], columns: list[str] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def send(client, admin, text: str, query: str = ""):
    return client.post(f"{IMPORT}{query}", data=text.encode(), content_type="text/csv",
                       headers=admin.headers)


def audit_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(AuditEntry))


def test_export_then_import_changes_nothing(client, admin, db_session):
    text = export(client, admin)
    version = current_catalogue_version(db_session)
    response = send(client, admin, text)
    assert response.status_code == 200, response.json
    report = response.json
    assert not any(report["created"].values()) and not any(report["updated"].values())
    assert report["unchanged"]["products"] == db_session.scalar(
        select(func.count()).select_from(Product))
    assert report["unchanged"]["variants"] == db_session.scalar(
        select(func.count()).select_from(Variant))
    assert audit_count(db_session) == 0
    assert current_catalogue_version(db_session) == version
    assert export(client, admin) == text


def test_export_covers_every_kind_of_row(client, admin):
    rows = rows_of(export(client, admin))
    kinds = {row["type"] for row in rows}
    assert kinds == {"category", "product", "treatment"}
    brush = next(row for row in rows if row["sku"] == "GLW-BRUSH-SONIC")
    assert brush["slug"] == "glow-sonic-cleansing-brush" and brush["price"] == "8900"
    assert brush["currency"] == "GBP" and brush["variant_active"] == "true"
    assert "|" in brush["skin_types"]


def test_edited_price_is_imported_and_audited(client, admin, db_session):
    rows = rows_of(export(client, admin))
    for row in rows:
        if row["sku"] == "GLW-BRUSH-SONIC":
            row["price"] = "7500"
    version = current_catalogue_version(db_session)
    response = send(client, admin, to_csv(rows))
    assert response.status_code == 200, response.json
    assert response.json["updated"] == {"categories": 0, "products": 0, "variants": 1,
                                        "treatments": 0}
    assert response.json["catalogue_version"] == version + 1
    entry = db_session.scalars(select(AuditEntry)).one()
    assert entry.action == "variant.update" and entry.actor_id == admin.user.id
    assert (entry.before["price_amount"], entry.after["price_amount"]) == (8900, 7500)
    public = client.get("/api/v1/products/glow-sonic-cleansing-brush").json
    assert {v["sku"]: v["price"]["amount"] for v in public["variants"]}["GLW-BRUSH-SONIC"] == 7500


def test_new_rows_create_category_product_variants_and_treatment(client, admin, db_session):
    columns = ["type", "slug", "name", "status", "category", "description", "concerns",
               "duration_minutes", "sku", "variant_name", "price", "currency", "position"]
    text = to_csv([
        {"type": "category", "slug": "lip-care", "name": "Lip Care", "position": "20"},
        {"type": "product", "slug": "rose-lip-balm", "name": "Rose Lip Balm", "status": "active",
         "category": "lip-care", "description": "Soft lips.", "concerns": "dehydration",
         "sku": "GLW-LIP-ROSE", "variant_name": "15 ml", "price": "1200", "currency": "GBP"},
        {"type": "product", "slug": "rose-lip-balm", "name": "Rose Lip Balm", "status": "active",
         "category": "lip-care", "description": "Soft lips.", "concerns": "dehydration",
         "sku": "GLW-LIP-ROSE-DUO", "variant_name": "2 x 15 ml", "price": "2000"},
        {"type": "treatment", "slug": "lip-hydration", "name": "Lip Hydration",
         "status": "active", "duration_minutes": "20", "price": "4500",
         "description": "Hydrating lip treatment.", "concerns": "dehydration"},
    ], columns)
    response = send(client, admin, text)
    assert response.status_code == 200, response.json
    assert response.json["created"] == {"categories": 1, "products": 1, "variants": 2,
                                        "treatments": 1}
    product = client.get("/api/v1/products/rose-lip-balm").json
    assert [v["sku"] for v in product["variants"]] == ["GLW-LIP-ROSE", "GLW-LIP-ROSE-DUO"]
    assert product["category"]["slug"] == "lip-care"
    assert client.get("/api/v1/treatments/lip-hydration").json["duration_minutes"] == 20
    actions = sorted(db_session.scalars(select(AuditEntry.action)))
    assert actions == ["category.create", "product.create", "treatment.create",
                       "variant.create", "variant.create"]
    again = send(client, admin, text)
    assert not any(again.json["created"].values()) and not any(again.json["updated"].values())


def test_a_partial_file_updates_only_its_columns(client, admin, db_session):
    text = to_csv([{"type": "product", "slug": "glow-sonic-cleansing-brush",
                    "sku": "GLW-BRUSH-SONIC-HEAD", "price": "1900"}])
    response = send(client, admin, text)
    assert response.status_code == 200, response.json
    head = db_session.scalar(select(Variant).where(Variant.sku == "GLW-BRUSH-SONIC-HEAD"))
    db_session.refresh(head)
    assert head.price_amount == 1900 and head.name == "Replacement head"


BAD_ROWS = [
    ({"price": "12.50"}, "price"),
    ({"price": ""}, "price"),
    ({"currency": "EUR"}, "currency"),
    ({"sku": "lower-case"}, "sku"),
    ({"status": "live"}, "status"),
    ({"category": "no-such-category"}, "category"),
    ({"concerns": "acne|made-up"}, "concerns"),
    ({"skin_types": "oily|scaly"}, "skin_types"),
    ({"compare_at_price": "100"}, "compare_at_price"),
    ({"variant_active": "maybe"}, "variant_active"),
    ({"duration_minutes": "30"}, "duration_minutes"),
    ({"type": "bundle"}, "type"),
    ({"sku": "GLW-BRUSH-SOFT"}, "sku"),
    # PostgreSQL refuses these at the write (NUL in text, a number no INTEGER holds): a 500
    ({"variant_name": "Sonic\x00brush"}, "variant_name"),
    ({"image_urls": "https://example.com/a\x00.jpg"}, "image_urls"),
    ({"price": str(2**31)}, "price"),
    ({"weight_grams": "9" * 30}, "weight_grams"),
    ({"variant_position": str(-(2**31) - 1)}, "variant_position"),
]


@pytest.mark.parametrize("change, column", BAD_ROWS)
def test_a_bad_row_is_reported_and_nothing_is_written(client, admin, db_session, change, column):
    rows = rows_of(export(client, admin))
    rows[0]["name"] = "Renamed category"  # a good edit that must not be written either
    index = next(i for i, row in enumerate(rows) if row["sku"] == "GLW-BRUSH-SONIC")
    rows[index].update(change)
    before = export(client, admin)
    response = send(client, admin, to_csv(rows))
    assert response.status_code == 422, response.json
    assert response.content_type == "application/problem+json"
    body = response.json
    assert body["code"] == "catalogue_import_invalid"
    line = index + 2  # the header is line 1
    bad = next(row for row in body["rows"] if row["line"] == line)
    assert column in bad["errors"], bad
    assert body["errors"][f"line {line}"] == bad["errors"]
    assert export(client, admin) == before
    assert audit_count(db_session) == 0


def test_every_bad_row_is_listed(client, admin):
    rows = rows_of(export(client, admin))
    products = [i for i, row in enumerate(rows) if row["type"] == "product"]
    for i in products[:3]:
        rows[i]["price"] = "free"
    response = send(client, admin, to_csv(rows))
    assert response.status_code == 422
    assert [row["line"] for row in response.json["rows"]] == [i + 2 for i in products[:3]]
    assert "3 of" in response.json["detail"]


def test_repeated_keys_and_inconsistent_product_rows_are_refused(client, admin):
    rows = rows_of(export(client, admin))
    brush = [i for i, row in enumerate(rows) if row["slug"] == "glow-sonic-cleansing-brush"]
    rows[brush[1]]["name"] = "Another name"
    rows.append(dict(rows[0]))
    response = send(client, admin, to_csv(rows))
    assert response.status_code == 422
    errors = {row["line"]: row["errors"] for row in response.json["rows"]}
    assert "name" in errors[brush[1] + 2]
    assert "slug" in errors[len(rows) + 1]


def test_a_sku_cannot_move_to_another_product(client, admin):
    text = to_csv([{"type": "product", "slug": "glow-soft-touch-cleansing-brush",
                    "sku": "GLW-BRUSH-SONIC", "price": "100"}])
    response = send(client, admin, text)
    assert response.status_code == 422
    assert "glow-sonic-cleansing-brush" in response.json["rows"][0]["errors"]["sku"][0]


def test_new_rows_need_their_required_columns(client, admin):
    text = to_csv([
        {"type": "product", "slug": "half-product", "sku": "HALF-1", "price": "100"},
        {"type": "treatment", "slug": "half-treatment", "sku": "", "price": ""},
    ])
    response = send(client, admin, text)
    assert response.status_code == 422
    errors = {row["line"]: row["errors"] for row in response.json["rows"]}
    assert {"name", "category", "variant_name"} <= set(errors[2])
    assert {"name", "duration_minutes"} <= set(errors[3])


def test_dry_run_reports_without_writing(client, admin, db_session):
    rows = rows_of(export(client, admin))
    for row in rows:
        if row["sku"] == "GLW-BRUSH-SONIC":
            row["price"] = "7500"
    version = current_catalogue_version(db_session)
    response = send(client, admin, to_csv(rows), "?dry_run=true")
    assert response.status_code == 200
    assert response.json["dry_run"] is True and response.json["updated"]["variants"] == 1
    assert response.json["catalogue_version"] == version
    assert audit_count(db_session) == 0
    assert "8900" in next(r["price"] for r in rows_of(export(client, admin))
                          if r["sku"] == "GLW-BRUSH-SONIC")


def test_formula_cells_are_neutralised_and_round_trip(client, admin, db_session):
    client.patch("/api/v1/admin/products/glow-sonic-cleansing-brush", headers=admin.headers,
                 json={"short_description": "=HYPERLINK(\"http://evil\")"})
    text = export(client, admin)
    brush = next(r for r in rows_of(text) if r["slug"] == "glow-sonic-cleansing-brush")
    assert brush["short_description"].startswith("'=")
    entries = audit_count(db_session)
    response = send(client, admin, text)
    assert response.status_code == 200 and not any(response.json["updated"].values())
    assert audit_count(db_session) == entries


@pytest.mark.parametrize("dry_run", ["?dry_run=true", ""])
def test_text_and_numbers_the_database_cannot_hold_are_row_errors(client, admin, dry_run):
    rows = rows_of(export(client, admin))
    rows[0]["position"] = str(2**31)
    rows[1]["description"] = "Gentle\x00"
    response = send(client, admin, to_csv(rows), dry_run)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.json["errors"] == {
        "line 2": {"position": ["Must be greater than or equal to -2147483648 and less than or "
                                "equal to 2147483647."]},
        "line 3": {"description": ["Must not contain NUL (\\u0000) characters."]}}


def test_a_cell_longer_than_the_csv_reader_takes_is_a_file_error(client, admin, db_session):
    rows = rows_of(export(client, admin))
    rows[0]["description"] = "x" * 200_000  # the csv module stops at 131,072 characters
    response = send(client, admin, to_csv(rows))
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert "field limit" in response.json["errors"]["file"][0]
    assert audit_count(db_session) == 0


@pytest.mark.parametrize("text, message", [
    ("", "header"),
    ("name,price\r\nx,1\r\n", "header"),
    ("type,slug,colour\r\nproduct,x,red\r\n", "colour"),
])
def test_bad_headers_are_refused(client, admin, text, message):
    response = send(client, admin, text)
    assert response.status_code == 422
    assert message in response.json["errors"]["file"][0]


def test_import_takes_only_utf8_csv(client, admin):
    as_json = client.post(IMPORT, json={"rows": []}, headers=admin.headers)
    assert as_json.status_code == 415
    as_text = client.post(IMPORT, data="type,slug", content_type="text/plain",
                          headers=admin.headers)
    assert as_text.status_code == 415
    latin1 = client.post(IMPORT, data="type,slug\r\ncategory,caf\xe9\r\n".encode("latin-1"),
                         content_type="text/csv", headers=admin.headers)
    assert latin1.status_code == 422 and "file" in latin1.json["errors"]


def test_a_byte_order_mark_is_accepted(client, admin):
    text = "\ufeff" + to_csv([{"type": "category", "slug": "cleansers", "position": "2"}])
    response = send(client, admin, text)
    assert response.status_code == 200, response.json
