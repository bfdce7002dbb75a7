"""Two-factor sign-in for the signed-in account (customers and staff alike)."""

from __future__ import annotations

from flask import g

from shop import ratelimits
from shop.accounts import export, schemas, two_factor
from shop.accounts.auth import access, current_user
from shop.accounts.routes import no_store
from shop.api import Blueprint
from shop.extensions import db

blp = Blueprint(
    "accounts_two_factor", __name__, url_prefix="/api/v1/me/two-factor",
    description="Two-factor sign-in: codes from an authenticator app (TOTP) at sign-in",
)
blp.after_request(no_store)
export.register_personal_data("two_factor", export=two_factor.export, erase=two_factor.forget)


@blp.route("/setup", methods=["POST"])
@access("customer")
@ratelimits.per_account("TWO_FACTOR_RATE_LIMIT")
@blp.response(200, schemas.TwoFactorSetupSchema)
@blp.alt_response(409, description="two_factor_enabled: it is already on")
@blp.alt_response(429, description="Too many attempts")
def setup():
    """A new secret for the authenticator app, shown this once; nothing changes at sign-in
    until a code from it is confirmed."""
    started = two_factor.start_setup(session=db.session, user=current_user())
    db.session.commit()
    return started


@blp.route("/confirm", methods=["POST"])
@access("customer")
@ratelimits.per_account("TWO_FACTOR_RATE_LIMIT")
@blp.arguments(schemas.TwoFactorConfirmSchema)
@blp.response(200, schemas.TwoFactorEnabledSchema)
@blp.alt_response(400, description="invalid_otp: the code is wrong or was already used")
@blp.alt_response(401, description="invalid_current_password")
@blp.alt_response(409, description="two_factor_enabled: already on; two_factor_not_set_up: "
                                   "no setup to confirm")
@blp.alt_response(429, description="Too many attempts")
def confirm(args):
    """Turn two-factor on with the password and a code from the app: answers the recovery
    codes, shown this once; every other session is signed out."""
    enabled = two_factor.confirm(session=db.session, user=current_user(),
                                 keep_family_id=g.token_family_id, **args)
    db.session.commit()
    return enabled


@blp.route("/disable", methods=["POST"])
@access("customer")
@ratelimits.per_account("TWO_FACTOR_RATE_LIMIT")
@blp.arguments(schemas.TwoFactorDisableSchema)
@blp.response(200, schemas.PasswordChangedSchema)
@blp.alt_response(401, description="invalid_current_password, or invalid_otp: a wrong or "
                                   "used code")
@blp.alt_response(409, description="two_factor_not_enabled: it is not on")
@blp.alt_response(429, description="Too many attempts")
def disable(args):
    """Turn two-factor off with the password and a code (from the app, or a recovery code);
    every other session is signed out and the account's address is told."""
    revoked = two_factor.disable(session=db.session, user=current_user(),
                                 keep_family_id=g.token_family_id, **args)
    db.session.commit()
    return {"sessions_revoked": revoked}


@blp.route("/recovery-codes", methods=["POST"])
@access("customer")
@ratelimits.per_account("TWO_FACTOR_RATE_LIMIT")
@blp.arguments(schemas.TwoFactorDisableSchema)
@blp.response(200, schemas.RecoveryCodesSchema)
@blp.alt_response(401, description="invalid_current_password, or invalid_otp: a wrong or "
                                   "used code")
@blp.alt_response(409, description="two_factor_not_enabled: it is not on")
@blp.alt_response(429, description="Too many attempts")
def renew_recovery_codes(args):
    """Ten new recovery codes, shown this once, with the password and a code; the earlier ones
    stop working and the account's address is told."""
    fresh = two_factor.renew_recovery_codes(session=db.session, user=current_user(), **args)
    db.session.commit()
    return {"recovery_codes": fresh}
