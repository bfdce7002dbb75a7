"""Password hashing and policy: Argon2id at the configured cost, common and email passwords
refused, unknown accounts verified against a dummy hash."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher

from shop.accounts import passwords, services
from shop.errors import Unauthorized, ValidationFailed
from tests.fixtures.auth import make_user


def test_hash_is_argon2id_with_the_configured_cost(app, db_session):
    hashed = passwords.hash_password("a long enough passphrase")
    assert hashed.startswith("$argon2id$")
    assert "m=8,t=1,p=1" in hashed  # the test settings, not argon2-cffi's defaults
    assert passwords.verify_password(hashed, "a long enough passphrase")
    assert not passwords.verify_password(hashed, "a long enough passphrasE")


def test_production_defaults_are_argon2_cffi_defaults():
    from shop.config import from_environment

    config = from_environment("/tmp", env={})
    reference = PasswordHasher()
    assert config["PASSWORD_HASH_TIME_COST"] == reference.time_cost == 3
    assert config["PASSWORD_HASH_MEMORY_COST"] == reference.memory_cost == 65536
    assert config["PASSWORD_HASH_PARALLELISM"] == reference.parallelism == 4


@pytest.mark.parametrize("stored", [None, "", "!unusable", "not-a-hash"])
def test_unusable_hashes_never_verify(app, db_session, stored):
    assert not passwords.verify_password(stored, "not-a-real-password-dummy")


def test_common_password_list_ships_with_the_code():
    common = passwords.common_passwords()
    assert len(common) > 300
    assert {"1234567890", "qwertyuiop", "password123", "iloveyou123"} <= common
    assert sum(len(item) >= passwords.MIN_LENGTH for item in common) > 250


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "at least 10"),
        ("QwertyUiop", "too common"),
        ("password123", "too common"),
        ("jane.doe@example.com", "email"),
        ("Jane.Doe@Example.com", "email"),
        ("x" * 1025, "at most"),
    ],
)
def test_policy_refuses(password, message):
    with pytest.raises(ValidationFailed) as caught:
        passwords.check_policy(password, email="jane.doe@example.com")
    assert caught.value.code == "weak_password"
    assert message in " ".join(caught.value.errors["password"])


def test_policy_refuses_the_local_part_of_a_long_email():
    with pytest.raises(ValidationFailed):
        passwords.check_policy("marguerite.smith", email="marguerite.smith@example.com")


def test_policy_accepts_a_passphrase():
    passwords.check_policy("violet kettle harbour", email="jane.doe@example.com")


class CountingHasher:
    """Wraps the app's hasher and counts full verifications."""

    def __init__(self, inner: PasswordHasher) -> None:
        self.inner = inner
        self.verifications = 0

    def verify(self, hashed: str, password: str) -> bool:
        self.verifications += 1
        return self.inner.verify(hashed, password)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def counting_hasher(app, db_session, monkeypatch):
    counter = CountingHasher(passwords.hasher())
    monkeypatch.setitem(app.extensions, "password_hasher", counter)
    return counter


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "disabled account"])
def test_every_failed_sign_in_costs_one_full_verification(db_session, counting_hasher, case):
    user = make_user(db_session, email="known@example.com", password="the right passphrase")
    if case == "disabled account":
        user.disabled_at = user.created_at
    email = "nobody@example.com" if case == "unknown email" else "known@example.com"
    password = "the right passphrase" if case == "disabled account" else "a wrong passphrase"
    counting_hasher.verifications = 0
    with pytest.raises(Unauthorized) as caught:
        services.authenticate(session=db_session, email=email, password=password)
    assert caught.value.code == "invalid_credentials"
    assert counting_hasher.verifications == 1


def test_failed_sign_ins_take_the_same_time_whether_or_not_the_email_exists(
    app, db_session, monkeypatch
):
    # A hasher expensive enough (~10 ms) that a skipped verification would stand out.
    monkeypatch.setitem(
        app.extensions, "password_hasher",
        PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1),
    )
    monkeypatch.delitem(app.extensions, "password_dummy_hash", raising=False)
    make_user(db_session, email="timed@example.com", password="the right passphrase")
    passwords.verify_password(None, "warm up the dummy hash")

    def seconds(email: str) -> float:
        started = time.perf_counter()
        with pytest.raises(Unauthorized):
            services.authenticate(session=db_session, email=email, password="wrong one!")
        return time.perf_counter() - started

    # Interleaved, and the fastest of each kept: a busy machine slows both alike. Skipping
    # the hash would make the unknown email some 20 times faster, far outside these bounds.
    samples = [(seconds("timed@example.com"), seconds("ghost@example.com")) for _ in range(9)]
    known, unknown = min(s[0] for s in samples), min(s[1] for s in samples)
    assert 1 / 3 < unknown / known < 3.0, (known, unknown)


def test_sign_in_upgrades_a_hash_made_with_old_parameters(db_session):
    user = make_user(db_session, email="old-hash@example.com")
    user.password_hash = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(
        "an old passphrase"
    )
    services.authenticate(session=db_session, email="old-hash@example.com",
                          password="an old passphrase")
    assert "m=8,t=1,p=1" in user.password_hash
    assert passwords.verify_password(user.password_hash, "an old passphrase")
