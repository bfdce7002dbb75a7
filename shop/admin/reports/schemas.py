"""Report arguments and responses."""

import marshmallow as ma

from shop.admin.schemas import DateRangeArgsSchema, UtcDateTime
from shop.csvio import FormatArgsSchema
from shop.orders.schemas import CreditNoteVatSchema
from shop.schemas import money_field


class SalesQuerySchema(DateRangeArgsSchema, FormatArgsSchema):
    top = ma.fields.Integer(load_default=10, validate=ma.validate.Range(min=1, max=100),
                            metadata={"description": "How many top products"})


class TopProductSchema(ma.Schema):
    sku = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    revenue = money_field(required=True)


class SalesDaySchema(ma.Schema):
    date = ma.fields.Date(required=True)
    orders = ma.fields.Integer(required=True)
    revenue = money_field(required=True)
    vat = money_field(required=True)
    refunds = money_field(required=True)
    refunds_vat = money_field(required=True)
    refunds_vat_by_rate = ma.fields.List(ma.fields.Nested(CreditNoteVatSchema), required=True,
                                         metadata={"description": "refunds_vat by rate"})


class SalesReportSchema(ma.Schema):
    date_from = UtcDateTime(data_key="from", attribute="from", required=True)
    date_to = UtcDateTime(data_key="to", attribute="to", required=True,
                          metadata={"description": "Exclusive"})
    currency = ma.fields.String(required=True)
    orders = ma.fields.Integer(required=True, metadata={"description": "Orders paid"})
    revenue = money_field(required=True, metadata={"description": "Paid order totals, VAT in"})
    vat = money_field(required=True)
    refunds = money_field(required=True, metadata={
        "description": "What refunds made in the period paid back (by credit note), less card "
        "refunds made before that the bank sent back in it (booked on the day it failed)"})
    net_revenue = money_field(required=True)
    refunds_vat = money_field(required=True, metadata={
        "description": "The VAT those refunds take back (each credit note's)"})
    net_vat = money_field(required=True, metadata={"description": "vat less refunds_vat"})
    refunds_vat_by_rate = ma.fields.List(
        ma.fields.Nested(CreditNoteVatSchema), required=True,
        metadata={"description": "What refunds paid back (net of VAT) and the VAT they take "
                  "back, at each rate, highest first; the VATs add up to refunds_vat"})
    average_order = money_field(required=True)
    top_products = ma.fields.List(ma.fields.Nested(TopProductSchema), required=True)
    days = ma.fields.List(ma.fields.Nested(SalesDaySchema), required=True)
