"""Voucher codes without a database: format, entropy, normalisation, keyed hash, encryption."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime

import pytest

from shop.vouchers import codes
from shop.vouchers.services import add_months

KEY = "a-long-test-voucher-key-of-some-length"


def test_codes_are_16_unambiguous_characters_with_80_random_bits():
    made = {codes.generate_code() for _ in range(2000)}
    assert len(made) == 2000
    for code in made:
        assert len(code) == 16 and codes.is_well_formed(code)
        assert not set(code) & set("ILOU")
    assert len(codes.ALPHABET) == len(set(codes.ALPHABET)) == 32
    assert codes.CODE_LENGTH * math.log2(len(codes.ALPHABET)) >= 80


def test_every_symbol_gets_used():
    seen = set("".join(codes.generate_code() for _ in range(500)))
    assert seen == set(codes.ALPHABET)


def test_display_groups_of_four():
    assert codes.display("ABCD2345EFGH6789") == "ABCD-2345-EFGH-6789"
    assert codes.last4("ABCD2345EFGH6789") == "6789"


@pytest.mark.parametrize("typed", [
    "abcd-2345-efgh-6789", "ABCD 2345 EFGH 6789", " abcd2345efgh6789 ", "AbCd-2345 eFgH-6789",
])
def test_input_ignores_case_spaces_and_dashes(typed):
    assert codes.normalise(typed) == "ABCD2345EFGH6789"
    assert codes.lookup_hash(typed, secret=KEY) == codes.lookup_hash("ABCD2345EFGH6789", secret=KEY)


def test_look_alike_letters_read_as_digits():
    assert codes.normalise("oIl0-1") == "01101"


def test_lookup_hash_is_keyed():
    code = codes.generate_code()
    digest = codes.lookup_hash(code, secret=KEY)
    assert len(digest) == 64 and code not in digest
    assert digest != codes.lookup_hash(code, secret=KEY + "x")
    assert digest != codes.lookup_hash(codes.generate_code(), secret=KEY)


def test_encryption_round_trips_and_hides_the_code():
    code = codes.generate_code()
    sealed = codes.encrypt(code, secret=KEY)
    assert code not in sealed and code not in base64.b64decode(sealed).decode("latin-1")
    assert codes.decrypt(sealed, secret=KEY) == code
    assert codes.encrypt(code, secret=KEY) != sealed  # random nonce every time


def test_wrong_key_or_tampering_is_refused():
    sealed = codes.encrypt(codes.generate_code(), secret=KEY)
    with pytest.raises(codes.CodeDecryptionError):
        codes.decrypt(sealed, secret="another-key-entirely")
    raw = bytearray(base64.b64decode(sealed))
    raw[-1] ^= 1
    with pytest.raises(codes.CodeDecryptionError):
        codes.decrypt(base64.b64encode(bytes(raw)).decode(), secret=KEY)


@pytest.mark.parametrize(("start", "months", "expected"), [
    (datetime(2026, 1, 31, 9, tzinfo=UTC), 1, datetime(2026, 2, 28, 9, tzinfo=UTC)),
    (datetime(2024, 2, 29, 9, tzinfo=UTC), 12, datetime(2025, 2, 28, 9, tzinfo=UTC)),
    (datetime(2026, 3, 15, 9, tzinfo=UTC), 12, datetime(2027, 3, 15, 9, tzinfo=UTC)),
    (datetime(2026, 11, 30, 9, tzinfo=UTC), 3, datetime(2027, 2, 28, 9, tzinfo=UTC)),
])
def test_add_months_clamps_to_the_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_stored_codes_keep_their_format():
    """Made before the HKDF/AES-GCM helpers moved to shop.crypto: stored codes still open."""
    key = "pinned-test-voucher-key-0123456789abcdef"
    token = "HK2fbUbuVwuZiFXrjNY0YXvHd3E6S9xEohX+s633RJHKIpP+GvEKYjLJsP8="
    assert codes.decrypt(token, secret=key) == "ABCD2345EFGH6789"
    assert codes.lookup_hash("abcd-2345-efgh-6789", secret=key) == (
        "6f28ca494f49b677211fea69cc1a9466b8d85f6d14c93cf5df683c76081d0469")
