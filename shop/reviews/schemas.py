"""Reviews: what a customer writes, what the shop shows of it, and staff's view."""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma

from shop.admin.schemas import AdminListArgsSchema, UtcDateTime
from shop.reviews.models import REVIEW_STATUSES
from shop.schemas import PageArgsSchema, instant_in_range, not_blank, page_schema

Length = ma.validate.Length
SORTS = ("newest", "highest", "lowest")
Stars = ma.validate.Range(min=1, max=5)


class ReviewCreateSchema(ma.Schema):
    rating = ma.fields.Integer(required=True, strict=True, validate=Stars,
                               metadata={"description": "Stars, 1 to 5"})
    title = ma.fields.String(required=True, validate=[Length(min=1, max=120), not_blank])
    body = ma.fields.String(required=True, validate=[Length(min=1, max=2000), not_blank])
    author_name = ma.fields.String(validate=[Length(min=1, max=60), not_blank], metadata={
        "description": "The name shown with the review (default: the account's first name "
                       "and last initial, e.g. \"Lara C.\")"})


class ReviewUpdateSchema(ReviewCreateSchema):
    """Every field optional: what is sent changes, and the review goes back to staff."""

    rating = ma.fields.Integer(strict=True, validate=Stars)
    title = ma.fields.String(validate=[Length(min=1, max=120), not_blank])
    body = ma.fields.String(validate=[Length(min=1, max=2000), not_blank])


class PublicReviewSchema(ma.Schema):
    """What anyone sees: never who wrote it beyond the name they chose."""

    id = ma.fields.Integer(required=True)
    author_name = ma.fields.String(required=True)
    rating = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    body = ma.fields.String(required=True)
    created_at = UtcDateTime(required=True)
    verified_purchase = ma.fields.Boolean(required=True, metadata={
        "description": "Always true: only customers who bought the product can review it"})


ReviewStarsSchema = ma.Schema.from_dict(
    {str(stars): ma.fields.Integer(required=True) for stars in range(1, 6)},
    name="ReviewStars")


class ReviewSummarySchema(ma.Schema):
    count = ma.fields.Integer(required=True, metadata={"description": "Approved reviews"})
    average = ma.fields.Float(required=True, allow_none=True, metadata={
        "description": "Their average rating to one decimal; null when there are none"})
    stars = ma.fields.Nested(ReviewStarsSchema, required=True, metadata={
        "description": "How many approved reviews gave each rating"})


class PublicReviewPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PublicReviewSchema), required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    summary = ma.fields.Nested(ReviewSummarySchema, required=True)


class PublicReviewQuerySchema(PageArgsSchema):
    sort = ma.fields.String(load_default="newest", validate=ma.validate.OneOf(SORTS), metadata={
        "description": "newest (default), highest or lowest rating first"})


class MyReviewSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    product_slug = ma.fields.String(attribute="product.slug", required=True)
    product_name = ma.fields.String(attribute="product.name", required=True)
    author_name = ma.fields.String(required=True)
    rating = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    body = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={
        "description": "pending (waiting for the clinic) | approved (shown) | rejected"})
    rejection_reason = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "Why the clinic did not publish it (edit it to send it again)"})
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
    moderated_at = UtcDateTime(required=True, allow_none=True)


MyReviewPageSchema = page_schema(MyReviewSchema, "MyReviewPage")


class StaffReviewSchema(MyReviewSchema):
    user_id = ma.fields.Integer(required=True, allow_none=True)
    email = ma.fields.Function(lambda review: review.user.email if review.user else None,
                               required=True, allow_none=True)
    moderated_by_id = ma.fields.Integer(required=True, allow_none=True)


StaffReviewPageSchema = page_schema(StaffReviewSchema, "StaffReviewPage")


class ReviewQuerySchema(AdminListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(REVIEW_STATUSES))
    product = ma.fields.String(validate=Length(max=120), metadata={
        "description": "A product's slug"})


class ReviewApproveSchema(ma.Schema):
    updated_at = ma.fields.AwareDateTime(required=True, default_timezone=UTC,
                                         validate=instant_in_range, metadata={
        "description": "The review's `updated_at` as staff read it: a review the customer "
                       "changed since is not published (409 review_changed)"})


class ReviewRejectSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=[Length(min=1, max=500), not_blank],
                              metadata={"description": "Told to the customer"})
