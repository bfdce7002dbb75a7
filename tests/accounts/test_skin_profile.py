"""The skin profile on the account (PATCH /me `skin_type`, `concerns`) and GET /me/routine,
the clinic's routine for it; in the data export and erased with the account."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update

from shop.accounts import services
from shop.accounts.models import User, UserSkinConcern
from shop.db import utcnow
from shop.errors import Unauthorized
from shop.extensions import db
from tests.accounts.test_api import assert_problem
from tests.fixtures.auth import bearer_for, make_user

ME = "/api/v1/me"


def patch_me(client, headers, **changes):
    return client.patch(ME, headers=headers, json=changes)


def profile_of(client, headers) -> tuple:
    body = client.get(ME, headers=headers).json
    return body["skin_type"], body["concerns"]


def concern_rows(session, user) -> list[UserSkinConcern]:
    session.expire_all()
    return list(session.scalars(
        select(UserSkinConcern).where(UserSkinConcern.user_id == user.id)))


def test_a_new_account_has_no_skin_profile(client, customer_headers):
    assert profile_of(client, customer_headers) == (None, [])


def test_the_profile_is_set_and_read_back_in_the_customers_order(client, customer_headers):
    response = patch_me(client, customer_headers, skin_type="oily",
                        concerns=["enlarged-pores", "breakouts", "dullness"])
    assert response.status_code == 200, response.json
    assert (response.json["skin_type"], response.json["concerns"]) == (
        "oily", ["enlarged-pores", "breakouts", "dullness"])
    assert profile_of(client, customer_headers) == (
        "oily", ["enlarged-pores", "breakouts", "dullness"])
    reordered = patch_me(client, customer_headers, concerns=["dullness", "enlarged-pores"])
    assert reordered.json["concerns"] == ["dullness", "enlarged-pores"]
    assert profile_of(client, customer_headers) == ("oily", ["dullness", "enlarged-pores"])


def test_the_rest_of_the_profile_is_left_as_it_was(client, customer_headers):
    patch_me(client, customer_headers, skin_type="dry", concerns=["dehydration"])
    response = patch_me(client, customer_headers, name="Lara C.")
    assert response.json["name"] == "Lara C."
    assert profile_of(client, customer_headers) == ("dry", ["dehydration"])
    patch_me(client, customer_headers, skin_type="sensitive")
    assert profile_of(client, customer_headers) == ("sensitive", ["dehydration"])


@pytest.mark.parametrize("cleared", [{"skin_type": None, "concerns": None},
                                     {"skin_type": None, "concerns": []}])
def test_null_or_an_empty_list_clears_the_profile(client, customer_headers, cleared):
    patch_me(client, customer_headers, skin_type="combination", concerns=["congestion"])
    response = patch_me(client, customer_headers, **cleared)
    assert response.status_code == 200, response.json
    assert profile_of(client, customer_headers) == (None, [])


@pytest.mark.parametrize(("changes", "field"), [
    ({"skin_type": "greasy"}, "skin_type"),
    ({"skin_type": ""}, "skin_type"),
    ({"concerns": ["enlarged-pores", "warts"]}, "concerns"),
    ({"concerns": ["dullness", "dullness"]}, "concerns"),
    ({"concerns": ["enlarged-pores", "dullness", "dehydration", "congestion", "fine-lines",
                   "breakouts"]}, "concerns"),
    ({"concerns": [""]}, "concerns"),
    ({"concerns": "dullness"}, "concerns"),
])
def test_an_invalid_profile_is_refused_by_field_and_changes_nothing(
    client, customer_headers, changes, field
):
    patch_me(client, customer_headers, skin_type="normal", concerns=["fine-lines"])
    body = assert_problem(patch_me(client, customer_headers, **changes), 422,
                          "validation_error")
    assert list(body["errors"]) == [field]
    assert profile_of(client, customer_headers) == ("normal", ["fine-lines"])


def test_five_concerns_are_kept(client, customer_headers):
    five = ["enlarged-pores", "dullness", "dehydration", "congestion", "fine-lines"]
    assert patch_me(client, customer_headers, concerns=five).json["concerns"] == five


def test_an_unknown_concern_is_named(client, customer_headers):
    body = patch_me(client, customer_headers, concerns=["warts", "dullness"]).json
    assert body["errors"] == {"concerns": ["No concern 'warts'."]}


def test_my_routine_is_the_routine_for_my_skin_type_and_first_concern(client,
                                                                      customer_headers):
    patch_me(client, customer_headers, skin_type="oily", concerns=["enlarged-pores", "dullness"])
    mine = client.get(f"{ME}/routine", headers=customer_headers)
    assert mine.status_code == 200, mine.json
    assert mine.headers["Cache-Control"] == "no-store"
    public = client.get("/api/v1/routine",
                        query_string={"skin_type": "oily", "concern": "enlarged-pores"})
    assert mine.json == public.json
    assert mine.json["concern"] == "enlarged-pores"


def test_my_routine_without_concerns_is_the_skin_types_routine(client, customer_headers):
    patch_me(client, customer_headers, skin_type="dry")
    mine = client.get(f"{ME}/routine", headers=customer_headers).json
    assert mine == client.get("/api/v1/routine", query_string={"skin_type": "dry"}).json
    assert mine["concern"] is None


def test_my_routine_needs_a_skin_type(client, customer_headers):
    patch_me(client, customer_headers, concerns=["enlarged-pores"])
    assert_problem(client.get(f"{ME}/routine", headers=customer_headers), 409,
                   "skin_profile_missing")


def test_my_routine_needs_a_signed_in_customer(client):
    assert_problem(client.get(f"{ME}/routine"), 401, "authentication_required")
    assert_problem(client.patch(ME, json={"skin_type": "oily"}), 401,
                   "authentication_required")


def test_the_profile_is_in_the_export(client, customer_headers):
    patch_me(client, customer_headers, skin_type="sensitive", concerns=["sensitivity"])
    profile = client.get(f"{ME}/export", headers=customer_headers).json["profile"]
    assert (profile["skin_type"], profile["concerns"]) == ("sensitive", ["sensitivity"])


def test_deleting_the_account_erases_the_profile(client, db_session, customer,
                                                 customer_headers):
    patch_me(client, customer_headers, skin_type="oily", concerns=["oiliness", "breakouts"])
    assert client.delete(ME, headers=customer_headers).status_code == 204
    assert concern_rows(db_session, customer) == []
    db_session.refresh(customer)
    assert customer.skin_type is None and customer.deleted_at is not None


@pytest.mark.parametrize("changes", [
    {"skin_type": "dry", "concerns": ["dehydration"]},
    {"name": "Written After Deletion", "marketing_consent": True},
])
def test_a_profile_saved_after_the_accounts_deletion_saves_nothing(db_session, changes):
    """The save reads the account locked: one that waited for a deletion to commit finds it
    deleted (here, deleted behind the session's back) and is refused."""
    user = make_user(db_session, name="")
    db_session.execute(update(User).where(User.id == user.id).values(deleted_at=utcnow()))
    db_session.commit()
    with pytest.raises(Unauthorized):
        services.update_profile(session=db_session, user=user, changes=changes)
    db_session.rollback()
    db_session.refresh(user)
    assert concern_rows(db_session, user) == [] and user.name == ""
    assert user.marketing_consent is False


@pytest.mark.postgresql_only
def test_profiles_saved_at_once_from_many_devices_keep_one_of_them(pooled_app):
    race_app = pooled_app(6)
    with race_app.app_context():
        user = make_user(db.session)
        headers = bearer_for(db.session, user)
        db.session.commit()
        db.session.remove()
    choices = [["enlarged-pores", "dullness"], ["dullness", "enlarged-pores"],
               ["dullness", "congestion", "enlarged-pores"], ["congestion"]] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda concerns: patch_me(
            race_app.test_client(), headers, concerns=concerns).status_code, choices))
    assert statuses == [200] * len(choices)
    assert profile_of(race_app.test_client(), headers)[1] in choices


def test_a_change_is_compared_with_the_account_as_it_is_now(db_session):
    """A customer turns marketing on and at once off again: the second request signed in
    before the first committed. It reads the row afresh under the lock, so "off" is kept."""
    user = make_user(db_session)
    assert user.marketing_consent is False  # as the second request loaded it
    db_session.execute(update(User).where(User.id == user.id).values(marketing_consent=True))
    services.update_profile(session=db_session, user=user,
                            changes={"marketing_consent": False})
    db_session.expire_all()
    assert db_session.get(User, user.id).marketing_consent is False
