"""The staff's start page: counts of what needs doing."""

from __future__ import annotations

import marshmallow as ma

from shop.admin.schemas import UtcDateTime

Count = ma.fields.Integer


class OrderCountsSchema(ma.Schema):
    pending_payment = Count(required=True, metadata={"description": "Waiting for payment"})
    to_fulfil = Count(required=True, metadata={"description": "Paid, not yet dispatched or ready"})
    oldest_to_fulfil_paid_at = UtcDateTime(required=True, allow_none=True, metadata={
        "description": "When the longest-waiting of them was paid"})
    to_complete = Count(required=True, metadata={
        "description": "Dispatched or ready to collect, not yet marked delivered or collected"})
    needs_attention = Count(required=True, metadata={
        "description": "Flagged for staff (e.g. a refund the bank sent back)"})


class ReturnCountsSchema(ma.Schema):
    requested = Count(required=True, metadata={"description": "Parcels on their way"})
    received = Count(required=True, metadata={"description": "Here, to refund or reject"})


class EnquiryCountsSchema(ma.Schema):
    new = Count(required=True, metadata={"description": "Treatment enquiries nobody answered"})


class ReviewCountsSchema(ma.Schema):
    pending = Count(required=True, metadata={
        "description": "Product reviews waiting to be approved or rejected"})


class StockCountsSchema(ma.Schema):
    low = Count(required=True, metadata={"description": "SKUs below their low-stock threshold"})
    out = Count(required=True, metadata={"description": "SKUs with nothing available"})
    customers_waiting = Count(required=True, metadata={
        "description": "Back-in-stock requests not yet answered"})


class EmailCountsSchema(ma.Schema):
    waiting = Count(required=True, metadata={"description": "Queued, not sent yet"})
    failed = Count(required=True, metadata={"description": "Given up on after every retry"})


class SummarySchema(ma.Schema):
    orders = ma.fields.Nested(OrderCountsSchema, required=True)
    returns = ma.fields.Nested(ReturnCountsSchema, required=True)
    enquiries = ma.fields.Nested(EnquiryCountsSchema, required=True)
    reviews = ma.fields.Nested(ReviewCountsSchema, required=True)
    stock = ma.fields.Nested(StockCountsSchema, required=True)
    emails = ma.fields.Nested(EmailCountsSchema, required=True)
    generated_at = UtcDateTime(required=True)
