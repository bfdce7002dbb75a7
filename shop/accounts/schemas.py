"""Accounts request and response schemas. Passwords are load-only; hashes never dump."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from shop.accounts.models import MAX_SKIN_CONCERNS, STAFF_ROLES
from shop.catalogue.models import SKIN_TYPES
from shop.schemas import not_blank, page_schema

Length = ma.validate.Length


def _name(**kwargs: Any) -> ma.fields.String:
    return ma.fields.String(validate=[Length(min=1, max=200), not_blank], **kwargs)


def _password(**kwargs: Any) -> ma.fields.String:
    return ma.fields.String(required=True, load_only=True, validate=Length(min=1, max=1024),
                            **kwargs)


# --- tokens -------------------------------------------------------------------------------

def _otp_code(**kwargs: Any) -> ma.fields.String:
    return ma.fields.String(required=True, load_only=True, validate=Length(min=1, max=64),
                            **kwargs)


def _device_name() -> ma.fields.String:
    return ma.fields.String(
        load_only=True, validate=[Length(min=1, max=100), not_blank],
        metadata={"description": "What to call this sign-in in GET /me/sessions (e.g. "
                                 "\"Ann's iPhone\"); the User-Agent when left out"})


class RegisterSchema(ma.Schema):
    email = ma.fields.Email(required=True, validate=Length(max=254))
    password = _password(metadata={"description": "At least 10 characters, not a common one"})
    name = _name(required=True)
    marketing_consent = ma.fields.Boolean(load_default=False)
    device_name = _device_name()


class LoginSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=Length(min=1, max=254))
    password = _password()
    otp = ma.fields.String(
        load_only=True, attribute="otp_code", validate=Length(max=64),
        metadata={"description": "With two-factor on: a code from the authenticator app or an "
                                 "unused recovery code (otp_required until it is given)"})
    device_name = _device_name()


class RefreshSchema(ma.Schema):
    refresh_token = ma.fields.String(required=True, load_only=True,
                                     validate=Length(min=1, max=200))


class PasswordResetRequestSchema(ma.Schema):
    email = ma.fields.Email(required=True, validate=Length(max=254))


class PasswordResetRequestedSchema(ma.Schema):
    detail = ma.fields.String(required=True)


class PasswordResetSchema(ma.Schema):
    token = ma.fields.String(required=True, load_only=True, validate=Length(min=1, max=200),
                             metadata={"description": "The code from the reset email"})
    new_password = _password(metadata={"description": "At least 10 characters"})


class TokenSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    refresh_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(
        required=True, metadata={"description": "Seconds until the access token expires"}
    )


# --- profile and address book -------------------------------------------------------------

class AddressSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(metadata={"description": "Recipient"})
    line1 = ma.fields.String(required=True)
    line2 = ma.fields.String()
    city = ma.fields.String(required=True)
    postcode = ma.fields.String(required=True, metadata={"example": "SW1A 1AA"})
    country = ma.fields.String(required=True, metadata={"example": "GB"})
    phone = ma.fields.String()
    is_default = ma.fields.Boolean(required=True)


class AddressCreateSchema(ma.Schema):
    name = ma.fields.String(validate=Length(max=200))
    line1 = ma.fields.String(required=True, validate=Length(min=1, max=200))
    line2 = ma.fields.String(validate=Length(max=200))
    city = ma.fields.String(required=True, validate=Length(min=1, max=100))
    postcode = ma.fields.String(required=True, validate=Length(min=2, max=12))
    country = ma.fields.String(
        load_default="GB", validate=Length(equal=2),
        metadata={"description": "ISO 3166-1 alpha-2; UK postcodes are checked for GB"},
    )
    phone = ma.fields.String(validate=Length(max=30))
    is_default = ma.fields.Boolean(load_default=False)


class AddressUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=Length(max=200))
    line1 = ma.fields.String(validate=Length(min=1, max=200))
    line2 = ma.fields.String(validate=Length(max=200))
    city = ma.fields.String(validate=Length(min=1, max=100))
    postcode = ma.fields.String(validate=Length(min=2, max=12))
    country = ma.fields.String(validate=Length(equal=2))
    phone = ma.fields.String(validate=Length(max=30))
    is_default = ma.fields.Boolean()


class AddressListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AddressSchema), required=True)


class ProfileSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)
    email_verified = ma.fields.Function(
        lambda user: user.email_verified_at is not None, required=True,
        metadata={"description": "The owner proved the address (the mailed link, a reset or "
                                 "an email change)", "type": "boolean"})
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    marketing_consent = ma.fields.Boolean(required=True)
    marketing_consent_at = ma.fields.DateTime(allow_none=True)
    default_address = ma.fields.Nested(AddressSchema, allow_none=True)
    skin_type = ma.fields.String(
        required=True, allow_none=True,
        metadata={"description": "Your skin type (GET /me/routine needs it), or null"})
    concerns = ma.fields.List(
        ma.fields.String(), attribute="skin_concerns", required=True,
        metadata={"description": "Concern slugs of your skin profile, the first leading"})
    created_at = ma.fields.DateTime(required=True)
    two_factor_enabled = ma.fields.Boolean(
        required=True, metadata={"description": "Sign-in asks for a code as well (otp)"})


class ProfileUpdateSchema(ma.Schema):
    name = _name()
    marketing_consent = ma.fields.Boolean()
    default_address_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "An address of yours, or null for none"}
    )
    skin_type = ma.fields.String(
        allow_none=True, validate=ma.validate.OneOf(SKIN_TYPES),
        metadata={"description": "One of the catalogue's skin types, or null for none"})
    concerns = ma.fields.List(
        ma.fields.String(validate=Length(min=1, max=80)), allow_none=True,
        validate=Length(max=MAX_SKIN_CONCERNS),
        metadata={"uniqueItems": True,
                  "description": "Concern slugs (e.g. enlarged-pores), each once, your main "
                                 "one first (GET /me/routine favours it); null or [] for none"})

    @ma.validates_schema
    def check_concerns_once(self, data: dict, **_: object) -> None:
        concerns = data.get("concerns") or []
        if len(set(concerns)) < len(concerns):
            raise ma.ValidationError("Give each concern once.", "concerns")


class RegisteredSchema(TokenSchema):
    user = ma.fields.Nested(ProfileSchema, required=True)


class PasswordChangeSchema(ma.Schema):
    current_password = _password()
    new_password = _password(metadata={"description": "At least 10 characters"})


class PasswordChangedSchema(ma.Schema):
    sessions_revoked = ma.fields.Integer(
        required=True, metadata={"description": "Other sessions signed out"}
    )


class EmailChangeRequestSchema(ma.Schema):
    new_email = ma.fields.Email(required=True, validate=Length(max=254))
    password = _password(metadata={"description": "The current password"})


class EmailChangeRequestedSchema(ma.Schema):
    detail = ma.fields.String(required=True)
    new_email = ma.fields.String(required=True)
    expires_at = ma.fields.DateTime(required=True,
                                    metadata={"description": "When the mailed code stops working"})


class VerifyEmailSchema(ma.Schema):
    token = ma.fields.String(required=True, load_only=True, validate=Length(min=1, max=500),
                             metadata={"description": "From the link mailed to the address"})


class VerificationSentSchema(ma.Schema):
    detail = ma.fields.String(required=True)


class UnsubscribeSchema(ma.Schema):
    token = ma.fields.String(required=True, load_only=True, validate=Length(min=1, max=500),
                             metadata={"description": "From the link in a marketing email"})


class OneClickUnsubscribeSchema(ma.Schema):
    """The body a mail provider POSTs to a List-Unsubscribe URL (RFC 8058 3.1)."""

    class Meta:
        # Only this field says the POST is the provider's one-click action (not a link
        # checker); anything else a provider adds must not stop the customer leaving.
        unknown = ma.EXCLUDE

    list_unsubscribe = ma.fields.String(
        required=True, load_only=True, data_key="List-Unsubscribe",
        validate=ma.validate.Equal("One-Click"), metadata={"description": "One-Click"})


class UnsubscribedSchema(ma.Schema):
    marketing_consent = ma.fields.Boolean(required=True, metadata={"description": "Now false"})


class EmailVerifiedSchema(ma.Schema):
    email = ma.fields.String(required=True)
    email_verified = ma.fields.Boolean(required=True)


class EmailChangeConfirmSchema(ma.Schema):
    token = ma.fields.String(required=True, load_only=True, validate=Length(min=1, max=200),
                             metadata={"description": "The code mailed to the new address"})


class PasswordResetDoneSchema(ma.Schema):
    sessions_revoked = ma.fields.Integer(
        required=True, metadata={"description": "Sessions signed out (every one)"}
    )


class SessionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    device = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    last_refreshed_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    revoked_reason = ma.fields.String(allow_none=True)


class LiveSessionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    device = ma.fields.String(allow_none=True, metadata={
        "description": "The device_name given at sign-in, else the client's User-Agent"})
    created_at = ma.fields.DateTime(required=True, metadata={"description": "Signed in at"})
    last_refreshed_at = ma.fields.DateTime(allow_none=True, metadata={
        "description": "Last token refresh (the app refreshes while it is in use)"})
    current = ma.fields.Boolean(required=True, metadata={
        "description": "The session this request was made with"})


class LiveSessionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LiveSessionSchema), required=True)


class ExportSchema(ma.Schema):
    """The core sections; other domains' sections are passed through as they built them."""

    class Meta:
        unknown = ma.INCLUDE  # documents the other domains' sections (additionalProperties)

    generated_at = ma.fields.DateTime(required=True)
    profile = ma.fields.Nested(ProfileSchema, required=True)
    addresses = ma.fields.List(ma.fields.Nested(AddressSchema), required=True)
    sessions = ma.fields.List(ma.fields.Nested(SessionSchema), required=True)

    @ma.post_dump(pass_original=True)
    def _add_domain_sections(self, data: dict, original: dict, **_kwargs: Any) -> dict:
        for name, value in original.items():
            data.setdefault(name, value)
        return data


class TwoFactorSetupSchema(ma.Schema):
    secret = ma.fields.String(required=True, metadata={
        "description": "Base32 secret to type into the authenticator app; shown this once"})
    otpauth_uri = ma.fields.String(required=True, metadata={
        "description": "otpauth://totp/... for the app (the QR code holds it)"})
    qr_svg = ma.fields.String(required=True, metadata={
        "description": "The otpauth URI as an SVG QR code"})


class TwoFactorConfirmSchema(ma.Schema):
    password = _password(metadata={
        "description": "The current password: a stolen session alone cannot turn it on"})
    code = _otp_code(metadata={"description": "A 6-digit code the app now shows"})


class TwoFactorEnabledSchema(ma.Schema):
    recovery_codes = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "10 single-use codes for signing in without the app; shown this once"})
    sessions_revoked = ma.fields.Integer(
        required=True, metadata={"description": "Other sessions signed out"})


class TwoFactorDisableSchema(ma.Schema):
    """The password and a code: turning it off, or new recovery codes."""

    password = _password(metadata={"description": "The current password"})
    code = _otp_code(metadata={"description": "A code from the app, or an unused recovery code"})


class RecoveryCodesSchema(ma.Schema):
    recovery_codes = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "10 new single-use codes, shown this once; the earlier ones no longer "
                       "work"})


# --- staff administration -----------------------------------------------------------------

class StaffSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    disabled = ma.fields.Function(lambda user: user.disabled_at is not None, required=True)
    two_factor_enabled = ma.fields.Boolean(required=True, metadata={
        "description": "Signs in with a code as well (STAFF_TWO_FACTOR_REQUIRED needs it)"})
    created_at = ma.fields.DateTime(required=True)
    last_login_at = ma.fields.DateTime(allow_none=True)


StaffPageSchema = page_schema(StaffSchema, "StaffPage")


class StaffCreateSchema(ma.Schema):
    email = ma.fields.Email(required=True, validate=Length(max=254))
    name = ma.fields.String(load_default="", validate=Length(max=200))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(STAFF_ROLES))
    password = _password(metadata={"description": "Initial password, at least 10 characters"})


class StaffUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=Length(max=200))
    role = ma.fields.String(validate=ma.validate.OneOf(STAFF_ROLES))
    disabled = ma.fields.Boolean()
    two_factor = ma.fields.Boolean(
        validate=ma.validate.Equal(False, error="Only the account's owner can turn it on."),
        metadata={"description": "false: turn two-factor sign-in off for someone who lost "
                                 "their app and recovery codes (they are signed out, told, "
                                 "and enrol again)"})
