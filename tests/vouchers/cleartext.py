"""Look through every column of every table for a voucher code in clear.

A code counts as found in any of its written forms (ABCD2345EFGH6789, ABCD-2345-EFGH-6789,
ABCD 2345 EFGH 6789, any case) inside text, bytes or JSON; inside strings that are base64;
and inside PDFs, whose text streams are usually compressed: a PDF is read with pypdf and its
extracted text and every decompressed stream are searched too.
"""

from __future__ import annotations

import base64
import binascii
import io
import json

from pypdf import PdfReader
from pypdf.generic import StreamObject
from sqlalchemy import inspect, literal_column, select, table

from shop.vouchers import codes


def written_forms(code: str) -> set[str]:
    plain = codes.normalise(code)
    groups = [plain[i:i + codes.GROUP] for i in range(0, len(plain), codes.GROUP)]
    return {plain, "-".join(groups), " ".join(groups)}


def pdf_texts(data: bytes) -> list[str]:
    """The page text and every decompressed stream of a PDF, as text."""
    reader = PdfReader(io.BytesIO(data))
    found = [page.extract_text() for page in reader.pages]
    for number in range(1, int(reader.trailer["/Size"])):
        obj = reader.get_object(number)
        if isinstance(obj, StreamObject):
            found.append(obj.get_data().decode("latin-1"))
    return found


def holds_code(value: object, code: str) -> bool:
    forms = written_forms(code)
    return any(form in text for text in _texts(value) for form in forms)


def places_holding(session, code: str) -> list[str]:
    """Every "table.column" (with the row's first column value) holding `code` in clear."""
    connection = session.connection()
    places = []
    for name in inspect(connection).get_table_names():
        rows = connection.execute(select(literal_column("*")).select_from(table(name)))
        for row in rows.mappings():
            places += [f"{name}.{column} (row {next(iter(row.values()))})"
                       for column, value in row.items() if holds_code(value, code)]
    return places


def _texts(value: object) -> list[str]:
    """`value` as upper-case text in every form worth searching."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    if isinstance(value, str):
        return [value.upper(), *(_texts(decoded) if (decoded := _base64(value)) else [])]
    if isinstance(value, bytes):
        texts = [value.decode("latin-1").upper()]
        if value.startswith(b"%PDF"):
            texts += [text.upper() for text in pdf_texts(value)]
        return texts
    return []


def _base64(value: str) -> bytes | None:
    if len(value) < 24:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
