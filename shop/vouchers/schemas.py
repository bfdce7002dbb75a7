"""Voucher request and response schemas: the public look-up, staff screens, the report."""

import marshmallow as ma

from shop.admin.schemas import AdminListArgsSchema
from shop.csvio import FormatArgsSchema
from shop.db import as_utc
from shop.schemas import instant_in_range, money_field, page_schema
from shop.vouchers.models import KINDS, SOURCES, STATUSES, TRANSACTION_KINDS


class UtcDateTime(ma.fields.DateTime):
    """Always with its UTC offset, also where SQLite hands back naive datetimes."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(value and as_utc(value), attr, obj, **kwargs)


class TreatmentRefSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class VoucherPublicSchema(ma.Schema):
    """What anyone holding the code may see: never the code itself or who bought it."""

    kind = ma.fields.String(required=True, metadata={"enum": list(KINDS)})
    treatment = ma.fields.Nested(TreatmentRefSchema, allow_none=True)
    balance = money_field(
        allow_none=True, metadata={"description": "Money vouchers: what can be spent now"}
    )
    expires_at = UtcDateTime(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(STATUSES)})


class VoucherTransactionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": list(TRANSACTION_KINDS)})
    amount = money_field(
        required=True, attribute="amount_money",
        metadata={"description": "Signed change to the balance"},
    )
    held_change = money_field(
        required=True, attribute="held_change_money",
        metadata={"description": "Signed change to the part held for unpaid orders"},
    )
    balance_after = money_field(required=True, attribute="balance_after_money")
    top_up = money_field(allow_none=True)
    treatment = ma.fields.Nested(TreatmentRefSchema, allow_none=True)
    order_id = ma.fields.Integer(allow_none=True)
    staff_user_id = ma.fields.Integer(allow_none=True)
    note = ma.fields.String()
    created_at = UtcDateTime(required=True)


class VoucherSummarySchema(ma.Schema):
    """A voucher as staff lists show it: the last four characters of the code only."""

    id = ma.fields.Integer(required=True)
    code_last4 = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    source = ma.fields.String(required=True, metadata={
        "enum": list(SOURCES), "description": "purchase (bought in the shop), clinic_gift "
        "(given by the clinic, or made outside the shop) or store_credit (a refund)"})
    status = ma.fields.String(required=True)
    treatment = ma.fields.Nested(TreatmentRefSchema, allow_none=True)
    initial_value = money_field(required=True, metadata={"description": "Value at purchase"})
    balance = money_field(required=True)
    held = money_field(required=True, metadata={"description": "Set aside for unpaid orders"})
    available = money_field(required=True)
    expires_at = UtcDateTime(required=True)
    frozen = ma.fields.Boolean(required=True)
    recipient_name = ma.fields.String()
    recipient_email = ma.fields.String(allow_none=True)
    purchaser_email = ma.fields.String(allow_none=True)
    send_on = ma.fields.Date(allow_none=True)
    order_id = ma.fields.Integer(allow_none=True)
    created_at = UtcDateTime(required=True)


class VoucherAdminSchema(VoucherSummarySchema):
    """Staff screen: the voucher (last four characters of the code only) and its ledger."""

    ledger = ma.fields.List(ma.fields.Nested(VoucherTransactionSchema))


VoucherPageSchema = page_schema(VoucherSummarySchema, "VoucherPage")


class VoucherListArgsSchema(AdminListArgsSchema):
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=254), metadata={
        "description": "Part of the buyer's or recipient's email, or the recipient's name"})
    last4 = ma.fields.String(validate=ma.validate.Length(min=4, max=4), metadata={
        "description": "The code's last four characters, as emails and receipts show them"})
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES), metadata={
        "description": "As shown: an active voucher past its expiry is expired"})
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    source = ma.fields.String(validate=ma.validate.OneOf(SOURCES))
    order_id = ma.fields.Integer(validate=ma.validate.Range(min=0, max=2**31 - 1),
                                 metadata={"description": "Bought by this order"})
    expires_before = ma.fields.Date(metadata={"description": "Expiring before this UTC day"})


class StaffResendSchema(ma.Schema):
    """Send a voucher again; to a corrected recipient, with a fresh code if the first email
    went to the wrong person."""

    recipient_email = ma.fields.Email(validate=ma.validate.Length(max=254))
    recipient_name = ma.fields.String(validate=ma.validate.Length(max=200))
    new_code = ma.fields.Boolean(load_default=False, metadata={
        "description": "Replace the code: the old one stops working, and carts it was applied "
                       "to lose it (409 `voucher_held` while an unpaid order holds part of it)"})
    send_now = ma.fields.Boolean(load_default=False, metadata={
        "description": "Send now even though the delivery is booked for a later day"})
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500),
                            metadata={"description": "Why, for the audit log"})


class StaffResendResultSchema(ma.Schema):
    voucher = ma.fields.Nested(VoucherSummarySchema, required=True)
    sent_to = ma.fields.String(required=True)
    send_after = UtcDateTime(allow_none=True, required=True, metadata={
        "description": "The booked delivery day it keeps; null: sent as soon as the worker runs"})
    code_replaced = ma.fields.Boolean(required=True)


class StaffGiveSchema(ma.Schema):
    """A voucher the clinic gives: a money voucher of `amount`, or a treatment voucher for one
    `treatment` (its price is the value). It goes to `recipient_email`, whose full code no
    member of staff ever sees."""

    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    amount = money_field(metadata={"description": "Money voucher: its value"})
    treatment = ma.fields.String(validate=ma.validate.Length(min=1, max=120), metadata={
        "description": "Treatment voucher: the treatment's slug"})
    recipient_email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    recipient_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    message = ma.fields.String(load_default="", validate=ma.validate.Length(max=1000))
    send_on = ma.fields.Date(metadata={
        "description": "Deliver that morning (clinic time), up to a year ahead; default: now"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=3, max=500),
                              metadata={"description": "Why: for the ledger and audit log"})

    @ma.validates_schema
    def value_fits_kind(self, data: dict, **_: object) -> None:
        if data.get("kind") == "money" and "amount" not in data:
            raise ma.ValidationError("A money voucher needs its amount.", "amount")
        if data.get("kind") == "treatment" and "treatment" not in data:
            raise ma.ValidationError("A treatment voucher needs the treatment.", "treatment")
        if data.get("kind") == "money" and "treatment" in data:
            raise ma.ValidationError("Only a treatment voucher names a treatment.", "treatment")
        if data.get("kind") == "treatment" and "amount" in data:
            raise ma.ValidationError("A treatment voucher is worth its treatment.", "amount")


class StaffGiveResultSchema(ma.Schema):
    voucher = ma.fields.Nested(VoucherSummarySchema, required=True)
    sent_to = ma.fields.String(required=True)
    send_after = UtcDateTime(allow_none=True, required=True, metadata={
        "description": "The morning it is delivered; null: as soon as the worker runs"})


class RedemptionSchema(ma.Schema):
    """Treatment voucher: `treatment` (+ `top_up`); money voucher: `amount` (+ `note`)."""

    treatment = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    top_up = money_field(metadata={"description": "Paid at the desk for a dearer treatment"})
    amount = money_field()
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))

    @ma.validates_schema
    def one_kind(self, data: dict, **_: object) -> None:
        if "amount" in data and ("treatment" in data or "top_up" in data):
            raise ma.ValidationError("Send amount (money voucher) or treatment, not both.",
                                     "amount")
        if "amount" not in data and "treatment" not in data:
            raise ma.ValidationError("Send amount (money voucher) or treatment.", "_schema")


class RedemptionResultSchema(ma.Schema):
    voucher = ma.fields.Nested(VoucherAdminSchema, required=True)
    transactions = ma.fields.List(ma.fields.Nested(VoucherTransactionSchema), required=True)


class VoidSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=3, max=500))


class ExtendSchema(ma.Schema):
    expires_at = ma.fields.AwareDateTime(validate=instant_in_range,
                                         metadata={"description": "The new expiry"})
    months = ma.fields.Integer(validate=ma.validate.Range(min=1, max=60))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))

    @ma.validates_schema
    def one_of(self, data: dict, **_: object) -> None:
        if ("expires_at" in data) == ("months" in data):
            raise ma.ValidationError("Send either expires_at or months.", "_schema")


class LiabilityRowSchema(ma.Schema):
    kind = ma.fields.String(required=True)
    source = ma.fields.String(required=True, metadata={"enum": list(SOURCES)})
    expiry_month = ma.fields.String(required=True, metadata={"example": "2027-03"})
    vouchers = ma.fields.Integer(required=True)
    outstanding = money_field(required=True)


class LiabilityByKindSchema(ma.Schema):
    kind = ma.fields.String(required=True)
    vouchers = ma.fields.Integer(required=True)
    outstanding = money_field(required=True)


class LiabilityBySourceSchema(ma.Schema):
    source = ma.fields.String(required=True, metadata={"enum": list(SOURCES)})
    vouchers = ma.fields.Integer(required=True)
    outstanding = money_field(required=True)


class LiabilityByMonthSchema(ma.Schema):
    expiry_month = ma.fields.String(required=True)
    vouchers = ma.fields.Integer(required=True)
    outstanding = money_field(required=True)


class LiabilityTotalSchema(ma.Schema):
    vouchers = ma.fields.Integer(required=True)
    outstanding = money_field(required=True)


class LiabilityReportSchema(ma.Schema):
    as_of = UtcDateTime(required=True)
    totals = ma.fields.List(ma.fields.Nested(LiabilityTotalSchema), required=True)
    by_kind = ma.fields.List(ma.fields.Nested(LiabilityByKindSchema), required=True)
    by_source = ma.fields.List(ma.fields.Nested(LiabilityBySourceSchema), required=True)
    by_expiry_month = ma.fields.List(ma.fields.Nested(LiabilityByMonthSchema), required=True)
    rows = ma.fields.List(ma.fields.Nested(LiabilityRowSchema), required=True)


class LiabilityArgsSchema(FormatArgsSchema):
    pass


class OrderTokenArgsSchema(ma.Schema):
    access_token = ma.fields.String(
        validate=ma.validate.Length(max=200),
        metadata={"description": "A guest's order token (or send the X-Order-Token header)"},
    )


class ResendSchema(ma.Schema):
    voucher_id = ma.fields.Integer(required=True)
    sent_to = ma.fields.String(required=True)


class VoucherDetailsSchema(ma.Schema):
    """The `voucher` object of a cart item: who the voucher is for and when to send it."""

    recipient_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    recipient_email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    message = ma.fields.String(load_default="", validate=ma.validate.Length(max=1000))
    send_on = ma.fields.Date(
        allow_none=True, metadata={"description": "Deliver that morning (clinic time); "
                                   "default: as soon as the order is paid"})


class CartVoucherSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))


class ApplyVoucherSchema(ma.Schema):
    """The voucher's `code`; or, signed in, the `voucher_id` of one of your vouchers
    (`GET /me/vouchers`)."""

    code = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    voucher_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))

    @ma.validates_schema
    def one_of(self, data: dict, **_: object) -> None:
        if ("code" in data) == ("voucher_id" in data):
            raise ma.ValidationError("Send either code or voucher_id.", "code")


class WalletVoucherSchema(ma.Schema):
    """One of your vouchers: the last four characters of its code only (the code is in the
    email that brought it)."""

    id = ma.fields.Integer(required=True, metadata={"description": "Apply it by this id"})
    code_last4 = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": list(KINDS)})
    source = ma.fields.String(required=True, metadata={
        "enum": list(SOURCES), "description": "purchase (a gift, or bought for yourself), "
        "clinic_gift (from the clinic) or store_credit (a refund)"})
    treatment = ma.fields.Nested(TreatmentRefSchema, allow_none=True)
    initial_value = money_field(required=True)
    available = money_field(required=True, metadata={
        "description": "What it can pay now (money vouchers)"})
    expires_at = UtcDateTime(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(STATUSES)})
    message = ma.fields.String(required=True)


class WalletSchema(ma.Schema):
    email_verified = ma.fields.Boolean(required=True, metadata={
        "description": "Vouchers show once the account's email is verified"})
    items = ma.fields.List(ma.fields.Nested(WalletVoucherSchema), required=True)


class AppliedVoucherSchema(ma.Schema):
    code_last4 = ma.fields.String(required=True)
    balance = money_field(required=True, metadata={"description": "What it can pay now"})
    applies = money_field(required=True, metadata={"description": "What it pays of this cart"})
    usable = ma.fields.Boolean(required=True)


class CartVouchersSchema(ma.Schema):
    applied = ma.fields.List(ma.fields.Nested(AppliedVoucherSchema), required=True)
    covered = money_field(required=True, metadata={"description": "Paid by vouchers"})
    amount_due = money_field(required=True, metadata={"description": "What the card pays"})
