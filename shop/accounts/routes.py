"""Sign-in for the web shop and the mobile app, and the customer's own account."""

from __future__ import annotations

from flask import g, redirect, request

from shop import ratelimits
from shop.accounts import (
    addresses,
    email_change,
    export,
    marketing,
    password_reset,
    schemas,
    services,
    skin_profile,
    verification,
)
from shop.accounts.auth import access, current_user
from shop.api import Blueprint
from shop.catalogue import schemas as catalogue_schemas
from shop.extensions import db
from shop.http import accepts_body
from shop.idempotency import idempotent

auth_blp = Blueprint(
    "accounts_auth", __name__, url_prefix="/api/v1/auth",
    description="Registration and bearer tokens (access tokens expire; refresh tokens rotate)",
)
me_blp = Blueprint(
    "accounts_me", __name__, url_prefix="/api/v1/me",
    description="The signed-in customer's profile, address book and data",
)


def no_store(response):
    # Tokens and personal data must not sit in shared or browser caches (RFC 6749 5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


auth_blp.after_request(no_store)
me_blp.after_request(no_store)
export.register_section("password_resets", password_reset.export_resets)
export.register_section("email_changes", email_change.export_changes)


def _device(args: dict) -> str | None:
    """The label of a new sign-in: the app's device_name, else the User-Agent (printable)."""
    label = args.pop("device_name", None) or request.headers.get("User-Agent", "")
    label = "".join(ch for ch in label if ch.isprintable()).strip()
    return label[:200] or None


@auth_blp.route("/register", methods=["POST"])
@access("public")
@ratelimits.per_ip("REGISTER_RATE_LIMIT")
@ratelimits.per_json_field("REGISTER_EMAIL_RATE_LIMIT", "email")
@auth_blp.arguments(schemas.RegisterSchema)
@auth_blp.response(201, schemas.RegisteredSchema)
@auth_blp.alt_response(409, description="The email address cannot be used")
@auth_blp.alt_response(422, description="Invalid fields or a weak password")
@auth_blp.alt_response(429, description="Too many attempts")
def register(args):
    """Create a customer account and sign it in."""
    tokens = services.register(session=db.session, device=_device(args), **args)
    verification.send_link(session=db.session, user=tokens.user)
    db.session.commit()
    return tokens


@auth_blp.route("/token", methods=["POST"])
@access("public")
@ratelimits.per_ip("LOGIN_RATE_LIMIT")
@ratelimits.per_json_field("LOGIN_EMAIL_RATE_LIMIT", "email")
@auth_blp.arguments(schemas.LoginSchema)
@auth_blp.response(200, schemas.TokenSchema)
@auth_blp.alt_response(401, description="invalid_credentials: wrong email or password; "
                                        "otp_required: the account has two-factor on, send "
                                        "otp too; invalid_otp: a wrong or used code")
@auth_blp.alt_response(429, description="Too many attempts")
def issue_tokens(args):
    """Sign in with email and password (customers and staff alike), and with two-factor on,
    a code from the authenticator app or a recovery code (otp)."""
    tokens = services.authenticate(session=db.session, device=_device(args), **args)
    db.session.commit()
    return tokens


@auth_blp.route("/refresh", methods=["POST"])
@access("public")
@ratelimits.per_ip("REFRESH_RATE_LIMIT")
@auth_blp.arguments(schemas.RefreshSchema)
@auth_blp.response(200, schemas.TokenSchema)
@auth_blp.alt_response(401, description="Invalid, expired, revoked or reused refresh token")
@auth_blp.alt_response(429, description="Too many attempts")
def refresh_tokens(args):
    """Trade a refresh token for a new pair; each refresh token works once."""
    try:
        tokens = services.refresh(session=db.session, refresh_token=args["refresh_token"])
    except services.RefreshTokenReused:
        db.session.commit()  # the family's revocation must outlive this failed request
        raise
    db.session.commit()
    return tokens


@auth_blp.route("/password-reset", methods=["POST"])
@access("public")
@ratelimits.per_ip("PASSWORD_RESET_RATE_LIMIT")
@ratelimits.per_json_field("PASSWORD_RESET_EMAIL_RATE_LIMIT", "email")
@auth_blp.arguments(schemas.PasswordResetRequestSchema)
@auth_blp.response(202, schemas.PasswordResetRequestedSchema)
@auth_blp.alt_response(422, description="Not an email address")
@auth_blp.alt_response(429, description="Too many requests")
def request_password_reset(args):
    """Forgotten password: email a reset code, if an account has this address.

    The answer is the same whether or not one has; the email follows within seconds."""
    password_reset.request_reset(session=db.session, email=args["email"])
    db.session.commit()
    return {"detail": "If an account has this address, a reset email is on its way."}


@auth_blp.route("/password-reset/confirm", methods=["POST"])
@access("public")
@ratelimits.per_ip("PASSWORD_RESET_CONFIRM_RATE_LIMIT")
@auth_blp.arguments(schemas.PasswordResetSchema)
@auth_blp.response(200, schemas.PasswordResetDoneSchema)
@auth_blp.alt_response(400, description="invalid_reset_token: invalid, used or expired")
@auth_blp.alt_response(422, description="The new password is too weak")
@auth_blp.alt_response(429, description="Too many attempts")
def reset_password(args):
    """Set a new password with the code from the reset email; every session is signed out."""
    revoked = password_reset.reset_password(session=db.session, **args)
    db.session.commit()
    return {"sessions_revoked": revoked}


@auth_blp.route("/verify-email", methods=["POST"])
@access("public")
@ratelimits.per_ip("EMAIL_VERIFY_CONFIRM_RATE_LIMIT")
@auth_blp.arguments(schemas.VerifyEmailSchema)
@auth_blp.response(200, schemas.EmailVerifiedSchema)
@auth_blp.alt_response(400, description="invalid_verification_token: invalid, expired, or "
                                        "the address changed since")
@auth_blp.alt_response(429, description="Too many attempts")
def verify_email(args):
    """Confirm an account's address with the token from the mailed link (signed in or not)."""
    user = verification.confirm(session=db.session, **args)
    db.session.commit()
    return {"email": user.email, "email_verified": True}


@auth_blp.route("/unsubscribe", methods=["POST"])
@access("public")
@ratelimits.per_ip("UNSUBSCRIBE_RATE_LIMIT")
@auth_blp.arguments(schemas.UnsubscribeSchema)
@auth_blp.response(200, schemas.UnsubscribedSchema)
@auth_blp.alt_response(400, description="invalid_unsubscribe_token: tampered, or the "
                                        "account's address changed since")
@auth_blp.alt_response(429, description="Too many attempts")
def unsubscribe(args):
    """Leave the marketing list with the token from a marketing email's link (signed in or
    not): the account's marketing consent is turned off and marketing still queued dropped."""
    marketing.unsubscribe(session=db.session, **args)
    db.session.commit()
    return {"marketing_consent": False}


@auth_blp.route("/unsubscribe/one-click", methods=["POST"])
@access("public")
@accepts_body("application/x-www-form-urlencoded", "multipart/form-data")
@ratelimits.per_ip("ONE_CLICK_UNSUBSCRIBE_RATE_LIMIT")
@auth_blp.arguments(schemas.UnsubscribeSchema, location="query", as_kwargs=True)
@auth_blp.arguments(schemas.OneClickUnsubscribeSchema, location="form", error_status_code=400)
@auth_blp.response(200, schemas.UnsubscribedSchema)
@auth_blp.alt_response(400, description="invalid_unsubscribe_token: tampered, or the "
                                        "account's address changed since; bad_request: the "
                                        "body is not List-Unsubscribe=One-Click")
@auth_blp.alt_response(429, description="Too many attempts")
def unsubscribe_one_click(_body, token):
    """One-click unsubscribe (RFC 8058): what POST /auth/unsubscribe does, for mail providers.

    The URL in a marketing email's List-Unsubscribe header: the customer's mail provider
    POSTs the form body List-Unsubscribe=One-Click to it (urlencoded or multipart) when they
    press its unsubscribe button."""
    marketing.unsubscribe(session=db.session, token=token)
    db.session.commit()
    return {"marketing_consent": False}


@auth_blp.route("/unsubscribe/one-click", methods=["GET"])
@access("public")
@ratelimits.per_ip("ONE_CLICK_UNSUBSCRIBE_RATE_LIMIT")
@auth_blp.arguments(schemas.UnsubscribeSchema, location="query", as_kwargs=True)
@auth_blp.doc(responses={"303": {"description": "To MARKETING_UNSUBSCRIBE_URL, with the token"}})
@auth_blp.alt_response(404, description="no_unsubscribe_page: MARKETING_UNSUBSCRIBE_URL is not "
                                        "set")
@auth_blp.alt_response(429, description="Too many attempts")
def unsubscribe_page(token):
    """The List-Unsubscribe URL opened in a browser (a mail client without one-click): sent
    on to the storefront's unsubscribe page with the token, changing nothing itself (RFC 8058:
    a GET, which link checkers and previews make too, must not unsubscribe)."""
    return redirect(marketing.unsubscribe_page(token), code=303)


@auth_blp.route("/logout", methods=["POST"])
@access("customer")
@auth_blp.response(204)
def logout():
    """Sign out: revoke this session's access and refresh tokens."""
    services.logout(session=db.session, family_id=g.token_family_id)
    db.session.commit()


@me_blp.route("", methods=["GET"])
@access("customer")
@me_blp.response(200, schemas.ProfileSchema)
def get_profile():
    """The signed-in account's profile."""
    return current_user()


@me_blp.route("", methods=["PATCH"])
@access("customer")
@me_blp.arguments(schemas.ProfileUpdateSchema)
@me_blp.response(200, schemas.ProfileSchema)
@me_blp.alt_response(404, description="default_address_id is not one of your addresses")
@me_blp.alt_response(422, description="Invalid fields: an unknown skin type or concern, a "
                                      "concern twice, more than 5 concerns")
def update_profile(changes):
    """Change name, marketing consent, the default address or the skin profile."""
    user = services.update_profile(session=db.session, user=current_user(), changes=changes)
    db.session.commit()
    return user


@me_blp.route("", methods=["DELETE"])
@access("customer")
@me_blp.response(204)
@me_blp.alt_response(409, description="Staff accounts are closed by an admin")
def delete_account():
    """Delete the account: personal data erased, every session signed out."""
    services.delete_account(session=db.session, user=current_user())
    db.session.commit()


@me_blp.route("/routine", methods=["GET"])
@access("customer")
@me_blp.response(200, catalogue_schemas.RoutineSchema)
@me_blp.alt_response(409, description="skin_profile_missing: the profile has no skin type")
def get_my_routine():
    """The clinic's routine for your skin profile: its skin type and first concern."""
    return skin_profile.routine(session=db.session, user=current_user())


@me_blp.route("/password", methods=["POST"])
@access("customer")
@me_blp.arguments(schemas.PasswordChangeSchema)
@me_blp.response(200, schemas.PasswordChangedSchema)
@me_blp.alt_response(401, description="The current password is wrong")
@me_blp.alt_response(422, description="The new password is too weak")
def change_password(args):
    """Change the password; every other session is signed out."""
    revoked = services.change_password(
        session=db.session, user=current_user(), keep_family_id=g.token_family_id, **args
    )
    db.session.commit()
    return {"sessions_revoked": revoked}


@me_blp.route("/email", methods=["POST"])
@access("customer")
@ratelimits.per_ip("EMAIL_CHANGE_RATE_LIMIT")
@me_blp.arguments(schemas.EmailChangeRequestSchema)
@me_blp.response(202, schemas.EmailChangeRequestedSchema)
@me_blp.alt_response(401, description="The current password is wrong")
@me_blp.alt_response(409, description="Another account uses the address")
@me_blp.alt_response(422, description="Not an email address, or already yours")
@me_blp.alt_response(429, description="Too many requests")
def request_email_change(args):
    """Change the sign-in address: a code goes to the new address, a notice to the old one."""
    change = email_change.request_change(session=db.session, user=current_user(), **args)
    db.session.commit()
    return {"detail": "Enter the code sent to the new address to confirm the change.",
            "new_email": change.new_email, "expires_at": change.expires_at}


@me_blp.route("/email/verification", methods=["POST"])
@access("customer")
@ratelimits.per_ip("EMAIL_VERIFY_RATE_LIMIT")
@me_blp.response(202, schemas.VerificationSentSchema)
@me_blp.alt_response(409, description="email_already_verified")
@me_blp.alt_response(429, description="Too many requests")
def resend_verification():
    """Mail the link confirming your address again."""
    verification.send_link(session=db.session, user=current_user())
    db.session.commit()
    return {"detail": "A link to confirm your address is on its way."}


@me_blp.route("/email/confirm", methods=["POST"])
@access("customer")
@ratelimits.per_ip("EMAIL_CHANGE_CONFIRM_RATE_LIMIT")
@me_blp.arguments(schemas.EmailChangeConfirmSchema)
@me_blp.response(200, schemas.ProfileSchema)
@me_blp.alt_response(400, description="invalid_email_change_token: invalid, used or expired")
@me_blp.alt_response(409, description="Another account has taken the address since")
@me_blp.alt_response(429, description="Too many attempts")
def confirm_email_change(args):
    """Confirm the new sign-in address with the code mailed to it (signed in as yourself)."""
    user = email_change.confirm_change(session=db.session, user=current_user(), **args)
    db.session.commit()
    return user


@me_blp.route("/sessions", methods=["GET"])
@access("customer")
@me_blp.response(200, schemas.LiveSessionListSchema)
def list_sessions():
    """Where you are signed in: every session that can still be used, most recent first."""
    families = services.live_sessions(session=db.session, user=current_user())
    return {"items": [{"id": family.id, "device": family.device,
                       "created_at": family.created_at,
                       "last_refreshed_at": family.last_refreshed_at,
                       "current": family.id == g.token_family_id} for family in families]}


@me_blp.route("/sessions/<int:session_id>", methods=["DELETE"])
@access("customer")
@me_blp.response(204)
@me_blp.alt_response(404, description="session_not_found: not one of your sessions, or ended")
def end_session(session_id: int):
    """Sign out one session (its access and refresh tokens stop working at once)."""
    services.end_session(session=db.session, user=current_user(), family_id=session_id)
    db.session.commit()


@me_blp.route("/export", methods=["GET"])
@access("customer")
@me_blp.response(200, schemas.ExportSchema)
def export_data():
    """Everything the shop holds about you, as JSON (UK GDPR access request)."""
    return export.build_export(session=db.session, user=current_user())


@me_blp.route("/addresses", methods=["GET"])
@access("customer")
@me_blp.response(200, schemas.AddressListSchema)
def list_addresses():
    """The address book."""
    return {"items": addresses.list_addresses(session=db.session, user=current_user())}


@me_blp.route("/addresses", methods=["POST"])
@access("customer")
@idempotent
@me_blp.arguments(schemas.AddressCreateSchema)
@me_blp.links(201, {"address_id": "$response.body#/id"},
              GetAddress=("accounts_me_get_address", "Read the address."),
              UpdateAddress=("accounts_me_update_address", "Change the address."),
              DeleteAddress=("accounts_me_delete_address", "Remove the address."))
@me_blp.response(201, schemas.AddressSchema)
@me_blp.alt_response(409, description="The address book is full")
@me_blp.alt_response(422, description="Invalid postcode, country or fields")
def create_address(data):
    """Add an address (the first one becomes the default)."""
    address = addresses.create_address(session=db.session, user=current_user(), data=data)
    db.session.commit()
    return address


@me_blp.route("/addresses/<int:address_id>", methods=["GET"])
@access("customer")
@me_blp.response(200, schemas.AddressSchema)
@me_blp.alt_response(404, description="Not one of your addresses")
def get_address(address_id: int):
    """One address of the address book."""
    return addresses.get_address(session=db.session, user=current_user(), address_id=address_id)


@me_blp.route("/addresses/<int:address_id>", methods=["PATCH"])
@access("customer")
@me_blp.arguments(schemas.AddressUpdateSchema)
@me_blp.response(200, schemas.AddressSchema)
@me_blp.alt_response(404, description="Not one of your addresses")
@me_blp.alt_response(422, description="Invalid postcode, country or fields")
def update_address(changes, address_id: int):
    """Change an address, or make it the default."""
    address = addresses.update_address(
        session=db.session, user=current_user(), address_id=address_id, changes=changes
    )
    db.session.commit()
    return address


@me_blp.route("/addresses/<int:address_id>", methods=["DELETE"])
@access("customer")
@me_blp.response(204)
@me_blp.alt_response(404, description="Not one of your addresses")
def delete_address(address_id: int):
    """Remove an address from the address book."""
    addresses.delete_address(session=db.session, user=current_user(), address_id=address_id)
    db.session.commit()
