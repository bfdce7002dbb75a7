"""Accounts services against the real database: sessions, rotation, revocation, deletion,
the address book and staff administration."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop.accounts import addresses, export, passwords, services, staff
from shop.accounts.auth import hash_token, issue_token, user_for_access_token
from shop.accounts.jobs import purge_expired_tokens
from shop.accounts.models import Address, AuthToken, TokenFamily, User
from shop.audit.models import AuditEntry
from shop.db import utcnow
from shop.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from shop.extensions import db
from tests.fixtures.auth import make_user

PASSWORD = "violet kettle harbour"


def register(session, email="ann@example.com", **kwargs):
    return services.register(
        session=session, email=email, password=kwargs.pop("password", PASSWORD),
        name=kwargs.pop("name", "Ann"), **kwargs,
    )


def signed_in(session, tokens) -> User | None:
    """Who the access token identifies now (None when it no longer works)."""
    return user_for_access_token(session=session, value=tokens.access_token)


# --- registration and sign-in -------------------------------------------------------------

def test_register_normalises_the_email_and_stores_an_argon2_hash(db_session):
    tokens = register(db_session, email="  Ann.Smith@Example.COM ")
    user = tokens.user
    assert user.email == "ann.smith@example.com"
    assert user.role == "customer"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert signed_in(db_session, tokens) is user


def test_email_is_unique_whatever_its_case(db_session):
    register(db_session, email="dup@example.com")
    with pytest.raises(Conflict) as caught:
        register(db_session, email="DUP@example.com ")
    assert caught.value.code == "email_unavailable"
    # The failed insert only rolled back its savepoint: the transaction goes on.
    assert db_session.scalar(select(func.count(User.id)).where(User.email == "dup@example.com"))


def test_tokens_are_stored_only_as_sha256_hashes(db_session):
    tokens = register(db_session)
    stored = db_session.scalars(
        select(AuthToken.token_hash).where(AuthToken.family_id == tokens.family_id)
    ).all()
    assert sorted(stored) == sorted([hash_token(tokens.access_token),
                                     hash_token(tokens.refresh_token)])
    assert tokens.access_token not in stored and tokens.refresh_token not in stored
    assert tokens.expires_in == 15 * 60


def test_sign_in_opens_a_new_session_each_time(db_session):
    first = register(db_session)
    second = services.authenticate(session=db_session, email="ANN@example.com",
                                   password=PASSWORD)
    assert second.family_id != first.family_id
    assert second.user.last_login_at is not None
    assert signed_in(db_session, first) is signed_in(db_session, second) is first.user


def test_wrong_password_and_unknown_email_fail_alike(db_session):
    register(db_session)
    errors = []
    for email, password in [("ann@example.com", "wrong password!"), ("no@example.com", PASSWORD)]:
        with pytest.raises(Unauthorized) as caught:
            services.authenticate(session=db_session, email=email, password=password)
        errors.append((caught.value.code, caught.value.detail))
    assert errors[0] == errors[1] == ("invalid_credentials", "The email or password is incorrect.")


# --- refresh rotation ---------------------------------------------------------------------

def test_refresh_rotates_the_pair_within_the_family(db_session):
    first = register(db_session)
    second = services.refresh(session=db_session, refresh_token=first.refresh_token)
    assert second.family_id == first.family_id
    assert second.refresh_token != first.refresh_token
    used = db_session.scalars(
        select(AuthToken).where(AuthToken.token_hash == hash_token(first.refresh_token))
    ).one()
    assert used.used_at is not None
    assert signed_in(db_session, second) is first.user


def test_reusing_a_refresh_token_revokes_the_whole_family(db_session):
    first = register(db_session)
    other_session = services.authenticate(
        session=db_session, email="ann@example.com", password=PASSWORD
    )
    rotated = services.refresh(session=db_session, refresh_token=first.refresh_token)
    with pytest.raises(services.RefreshTokenReused) as caught:
        services.refresh(session=db_session, refresh_token=first.refresh_token)
    assert caught.value.status == 401
    family = db_session.get(TokenFamily, first.family_id)
    assert family.revoked_reason == "refresh_token_reuse" and family.revoked_at is not None
    assert signed_in(db_session, rotated) is None
    with pytest.raises(Unauthorized):
        services.refresh(session=db_session, refresh_token=rotated.refresh_token)
    assert signed_in(db_session, other_session) is first.user  # other sign-ins are untouched


@pytest.mark.parametrize("token", ["re_unknown", "", "ac_not-a-refresh-token"])
def test_unknown_refresh_tokens_are_refused(db_session, token):
    with pytest.raises(Unauthorized) as caught:
        services.refresh(session=db_session, refresh_token=token)
    assert caught.value.code == "invalid_refresh_token"


def test_an_access_token_is_not_a_refresh_token(db_session):
    tokens = register(db_session)
    with pytest.raises(Unauthorized) as caught:
        services.refresh(session=db_session, refresh_token=tokens.access_token)
    assert caught.value.code == "invalid_refresh_token"


def test_expired_tokens_do_not_work(db_session):
    tokens = register(db_session)
    family = db_session.get(TokenFamily, tokens.family_id)
    expired_refresh = issue_token(
        session=db_session, family=family, kind="refresh", lifetime=timedelta(seconds=-1)
    )
    expired_access = issue_token(
        session=db_session, family=family, kind="access", lifetime=timedelta(seconds=-1)
    )
    db_session.flush()
    assert user_for_access_token(session=db_session, value=expired_access) is None
    with pytest.raises(Unauthorized) as caught:
        services.refresh(session=db_session, refresh_token=expired_refresh)
    assert caught.value.code == "invalid_refresh_token"


def test_logout_revokes_only_that_session(db_session):
    first = register(db_session)
    second = services.authenticate(session=db_session, email="ann@example.com",
                                   password=PASSWORD)
    services.logout(session=db_session, family_id=first.family_id)
    assert signed_in(db_session, first) is None
    assert db_session.get(TokenFamily, first.family_id).revoked_reason == "logout"
    with pytest.raises(Unauthorized):
        services.refresh(session=db_session, refresh_token=first.refresh_token)
    assert signed_in(db_session, second) is first.user


# --- password change and deletion ---------------------------------------------------------

def test_password_change_signs_out_every_other_session(db_session):
    current = register(db_session)
    others = [services.authenticate(session=db_session, email="ann@example.com",
                                    password=PASSWORD) for _ in range(2)]
    revoked = services.change_password(
        session=db_session, user=current.user, current_password=PASSWORD,
        new_password="a brand new passphrase", keep_family_id=current.family_id,
    )
    assert revoked == 2
    assert signed_in(db_session, current) is current.user
    assert all(signed_in(db_session, other) is None for other in others)
    reasons = {db_session.get(TokenFamily, o.family_id).revoked_reason for o in others}
    assert reasons == {"password_changed"}
    with pytest.raises(Unauthorized):
        services.authenticate(session=db_session, email="ann@example.com", password=PASSWORD)
    services.authenticate(session=db_session, email="ann@example.com",
                          password="a brand new passphrase")


def test_password_change_needs_the_current_password_and_a_good_new_one(db_session):
    tokens = register(db_session)
    with pytest.raises(Unauthorized) as wrong:
        services.change_password(session=db_session, user=tokens.user, current_password="nope",
                                 new_password="a brand new passphrase", keep_family_id=None)
    assert wrong.value.code == "invalid_current_password"
    with pytest.raises(ValidationFailed) as weak:
        services.change_password(session=db_session, user=tokens.user,
                                 current_password=PASSWORD, new_password="qwertyuiop",
                                 keep_family_id=None)
    assert list(weak.value.errors) == ["new_password"]
    assert signed_in(db_session, tokens) is tokens.user


def test_deleting_an_account_erases_personal_data(db_session, monkeypatch):
    tokens = register(db_session, email="erase.me@example.com", name="Erin Example",
                      marketing_consent=True)
    user = tokens.user
    user.stripe_customer_id = "cus_123"
    addresses.create_address(session=db_session, user=user,
                             data={"line1": "1 Lane", "city": "Leeds", "postcode": "LS1 1UR"})
    second = services.authenticate(session=db_session, email="erase.me@example.com",
                                   password=PASSWORD)
    seen = []
    monkeypatch.setattr(services, "on_account_deleted",
                        [lambda *, session, user: seen.append(user.email)])

    services.delete_account(session=db_session, user=user)

    assert seen == ["erase.me@example.com"]  # hooks run before the data is gone
    db_session.expire_all()
    user = db_session.get(User, user.id)
    assert user.email == f"deleted-{user.id}@invalid.example"
    assert user.name == "" and not user.marketing_consent and user.marketing_consent_at is None
    assert user.stripe_customer_id is None and user.deleted_at is not None
    assert user.password_hash.startswith(passwords.UNUSABLE_PREFIX)
    assert db_session.scalar(select(func.count(Address.id)).where(Address.user_id == user.id)) == 0
    assert signed_in(db_session, tokens) is None and signed_in(db_session, second) is None
    with pytest.raises(Unauthorized):
        services.authenticate(session=db_session, email="erase.me@example.com",
                              password=PASSWORD)
    register(db_session, email="erase.me@example.com")  # the address is free again


def test_staff_cannot_delete_their_own_account(db_session):
    with pytest.raises(Conflict) as caught:
        services.delete_account(session=db_session, user=make_user(db_session, role="staff"))
    assert caught.value.code == "staff_account"


# --- address book -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("given", "stored"),
    [("sw1a1aa", "SW1A 1AA"), ("  EC1A 1bb ", "EC1A 1BB"), ("m11ae", "M1 1AE"),
     ("B33 8TH", "B33 8TH"), ("cr26xh", "CR2 6XH"), ("DN551PT", "DN55 1PT"),
     ("W1A 0AX", "W1A 0AX"), ("gir0aa", "GIR 0AA"), ("je2 3ab", "JE2 3AB")],
)
def test_uk_postcodes_are_normalised(given, stored):
    assert addresses.normalise_postcode(given, "GB") == stored


@pytest.mark.parametrize("postcode", ["SW1A", "12345", "SW1A 1A", "QW1 1AA", "SW1A 1AAA", "V1 1AA"])
def test_malformed_uk_postcodes_are_refused(postcode):
    with pytest.raises(ValidationFailed) as caught:
        addresses.normalise_postcode(postcode, "GB")
    assert list(caught.value.errors) == ["postcode"]


def test_country_codes_are_iso_alpha_2(db_session):
    user = make_user(db_session)
    address = addresses.create_address(session=db_session, user=user, data={
        "line1": "Rue 1", "city": "Paris", "postcode": "75001", "country": "fr"})
    assert (address.country, address.postcode) == ("FR", "75001")
    for country in ("XX", "UK", "GBR"):
        with pytest.raises(ValidationFailed) as caught:
            addresses.create_address(session=db_session, user=user, data={
                "line1": "1 Lane", "city": "X", "postcode": "SW1A 1AA", "country": country})
        assert list(caught.value.errors) == ["country"]


def test_first_address_is_the_default_and_only_one_stays_default(db_session):
    user = make_user(db_session)
    data = {"line1": "1 Lane", "city": "Bath", "postcode": "BA1 1AA"}
    first = addresses.create_address(session=db_session, user=user, data=data)
    second = addresses.create_address(session=db_session, user=user, data=data)
    assert first.is_default and not second.is_default
    third = addresses.create_address(session=db_session, user=user,
                                     data={**data, "is_default": True})
    db_session.expire_all()
    defaults = [a.id for a in addresses.list_addresses(session=db_session, user=user)
                if a.is_default]
    assert defaults == [third.id]
    addresses.update_address(session=db_session, user=user, address_id=first.id,
                             changes={"is_default": True})
    db_session.expire_all()
    assert db_session.get(User, user.id).default_address.id == first.id


def test_the_database_allows_one_default_address_per_user(db_session):
    user = make_user(db_session)
    row = {"user_id": user.id, "line1": "1 Lane", "city": "Bath", "postcode": "BA1 1AA",
           "is_default": True}
    db_session.add(Address(**row))
    db_session.flush()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(Address(**row))
        db_session.flush()


def test_changing_the_country_rechecks_the_postcode(db_session):
    user = make_user(db_session)
    address = addresses.create_address(session=db_session, user=user, data={
        "line1": "Rue 1", "city": "Paris", "postcode": "75001", "country": "FR"})
    with pytest.raises(ValidationFailed):
        addresses.update_address(session=db_session, user=user, address_id=address.id,
                                 changes={"country": "GB"})
    updated = addresses.update_address(session=db_session, user=user, address_id=address.id,
                                       changes={"country": "GB", "postcode": "e16an"})
    assert (updated.country, updated.postcode) == ("GB", "E1 6AN")


def test_addresses_of_others_are_not_found(db_session):
    owner, other = make_user(db_session), make_user(db_session)
    address = addresses.create_address(session=db_session, user=owner, data={
        "line1": "1 Lane", "city": "Bath", "postcode": "BA1 1AA"})
    with pytest.raises(NotFound):
        addresses.get_address(session=db_session, user=other, address_id=address.id)
    with pytest.raises(NotFound):
        services.update_profile(session=db_session, user=other,
                                changes={"default_address_id": address.id})


def test_the_address_book_is_small(db_session, monkeypatch):
    monkeypatch.setattr(addresses, "MAX_ADDRESSES", 2)
    user = make_user(db_session)
    data = {"line1": "1 Lane", "city": "Bath", "postcode": "BA1 1AA"}
    for _ in range(2):
        addresses.create_address(session=db_session, user=user, data=data)
    with pytest.raises(Conflict) as caught:
        addresses.create_address(session=db_session, user=user, data=data)
    assert caught.value.code == "address_book_full"


# --- staff --------------------------------------------------------------------------------

def test_create_staff_validates_role_password_and_email(db_session):
    admin = make_user(db_session, role="admin")
    with pytest.raises(ValidationFailed):
        staff.create_staff(session=db_session, email="s@example.com", password=PASSWORD,
                           role="customer", actor=admin)
    with pytest.raises(ValidationFailed):
        staff.create_staff(session=db_session, email="s@example.com", password="1234567890",
                           role="staff", actor=admin)
    created = staff.create_staff(session=db_session, email="S@Example.com", password=PASSWORD,
                                 role="staff", name="Sam", actor=admin)
    assert (created.email, created.role) == ("s@example.com", "staff")
    with pytest.raises(Conflict):
        staff.create_staff(session=db_session, email="s@example.com", password=PASSWORD,
                           role="admin", actor=admin)
    entry = db_session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "user",
                                 AuditEntry.entity_id == str(created.id))
    ).one()
    assert entry.action == "staff.create" and entry.actor_id == admin.id
    assert "password" not in str(entry.after) and "argon2" not in str(entry.after)


def test_disabling_staff_signs_them_out_and_blocks_sign_in(db_session):
    admin = make_user(db_session, role="admin")
    member = make_user(db_session, role="staff", email="member@example.com", password=PASSWORD)
    tokens = services.authenticate(session=db_session, email="member@example.com",
                                   password=PASSWORD)
    staff.update_staff(session=db_session, actor=admin, user_id=member.id,
                       changes={"disabled": True})
    assert signed_in(db_session, tokens) is None
    with pytest.raises(Unauthorized):
        services.authenticate(session=db_session, email="member@example.com", password=PASSWORD)
    staff.update_staff(session=db_session, actor=admin, user_id=member.id,
                       changes={"disabled": False, "role": "admin"})
    assert services.authenticate(session=db_session, email="member@example.com",
                                 password=PASSWORD).user.role == "admin"


def test_the_last_active_admin_cannot_be_demoted_or_disabled(db_session):
    # Other tests' admins may be committed in this database: disable them for this test.
    for other in db_session.scalars(select(User).where(User.role == "admin")):
        other.disabled_at = other.created_at
    admin = make_user(db_session, role="admin")
    for changes in ({"role": "staff"}, {"disabled": True}):
        with pytest.raises(Conflict) as caught:
            staff.update_staff(session=db_session, actor=admin, user_id=admin.id,
                               changes=changes)
        assert caught.value.code == "last_admin"
    second = make_user(db_session, role="admin")
    staff.update_staff(session=db_session, actor=second, user_id=admin.id,
                       changes={"role": "staff"})
    assert admin.role == "staff"


def test_customers_are_not_staff_accounts(db_session):
    admin, customer = make_user(db_session, role="admin"), make_user(db_session)
    with pytest.raises(NotFound):
        staff.update_staff(session=db_session, actor=admin, user_id=customer.id,
                           changes={"role": "admin"})


# --- export -------------------------------------------------------------------------------

def test_export_sections_are_registered_once_by_name(monkeypatch):
    monkeypatch.setattr(export, "_sections", {})

    def orders(*, session, user):
        return [{"number": "GLW-1"}]

    export.register_section("orders", orders)
    export.register_section("orders", orders)  # the same function again: fine
    with pytest.raises(ValueError):
        export.register_section("orders", lambda *, session, user: [])
    with pytest.raises(ValueError):
        export.register_section("profile", orders)
    assert export.registered_sections() == ("orders",)


def test_export_gathers_core_and_domain_sections(db_session, monkeypatch):
    monkeypatch.setattr(export, "_sections", {})
    export.register_section("vouchers", lambda *, session, user: {"count": 0, "user": user.id})
    tokens = register(db_session)
    data = export.build_export(session=db_session, user=tokens.user)
    assert list(data) == ["generated_at", "profile", "addresses", "sessions", "vouchers"]
    assert data["profile"] is tokens.user
    assert [family.id for family in data["sessions"]] == [tokens.family_id]
    assert data["vouchers"] == {"count": 0, "user": tokens.user.id}


# --- worker --------------------------------------------------------------------------------

def test_expired_tokens_are_purged_but_live_ones_and_families_stay(db_session):
    tokens = register(db_session)
    family = db_session.get(TokenFamily, tokens.family_id)
    for lifetime in (timedelta(days=-2), timedelta(days=-3), timedelta(hours=-1)):
        issue_token(session=db_session, family=family, kind="access", lifetime=lifetime)
    db_session.flush()
    assert purge_expired_tokens(session=db_session, now=utcnow()) >= 2
    remaining = db_session.scalars(
        select(AuthToken).where(AuthToken.family_id == family.id)).all()
    assert len(remaining) == 3  # the live pair and the one within a day of expiry
    assert signed_in(db_session, tokens) is tokens.user
    assert db_session.get(TokenFamily, family.id) is not None
    assert purge_expired_tokens(session=db_session, now=utcnow()) == 0


# --- concurrency (PostgreSQL) -------------------------------------------------------------

@pytest.mark.postgresql_only
def test_concurrent_refreshes_with_one_token_let_at_most_one_through(app, committed):
    client = app.test_client()
    response = client.post("/api/v1/auth/register", json={
        "email": "racer@example.com", "password": PASSWORD, "name": "Racer"})
    refresh_token = response.json["refresh_token"]
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def attempt() -> None:
        barrier.wait()
        result = app.test_client().post("/api/v1/auth/refresh",
                                        json={"refresh_token": refresh_token})
        statuses.append(result.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(statuses) == [200] + [401] * 5
    with app.app_context():
        family = db.session.scalars(select(TokenFamily)).one()
        assert family.revoked_reason == "refresh_token_reuse"
        db.session.remove()


@pytest.mark.postgresql_only
def test_concurrent_registrations_of_one_email_create_one_account(app, committed):
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def attempt(name: str) -> None:
        barrier.wait()
        result = app.test_client().post("/api/v1/auth/register", json={
            "email": "Twin@example.com", "password": PASSWORD, "name": name})
        statuses.append(result.status_code)

    threads = [threading.Thread(target=attempt, args=(f"T{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(statuses) == [201, 409, 409, 409]
    with app.app_context():
        count = db.session.scalar(select(func.count(User.id)).where(
            User.email == "twin@example.com"))
        db.session.remove()
    assert count == 1
