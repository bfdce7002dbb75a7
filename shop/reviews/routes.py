"""Reviews: verified buyers write them (`/products/{slug}/reviews`, `/me/reviews`), anyone
reads the approved ones, staff moderate them (`/admin/reviews`)."""

from __future__ import annotations

from shop import ratelimits
from shop.accounts.auth import access, current_user
from shop.accounts.export import register_personal_data
from shop.api import Blueprint
from shop.csvio import documents_csv, page_or_csv
from shop.extensions import db
from shop.idempotency import idempotent
from shop.reviews import schemas, services
from shop.schemas import PageArgsSchema

blp = Blueprint("reviews", __name__, url_prefix="/api/v1",
                description="Product reviews from verified buyers, moderated by staff")
register_personal_data("reviews", export=services.export_reviews,
                       erase=services.forget_account)


@blp.route("/products/<slug>/reviews")
@access("public")
@blp.arguments(schemas.PublicReviewQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.PublicReviewPageSchema)
@blp.alt_response(404, description="product_not_found: no such active product")
def list_reviews(slug: str, sort: str, page: int, per_page: int):
    """A product's approved reviews (`sort`: newest, highest, lowest) and the summary of
    them all: how many, the average rating and how many gave each rating."""
    return services.public_page(session=db.session, slug=slug, sort=sort, page=page,
                                per_page=per_page)


@blp.route("/products/<slug>/reviews", methods=["POST"])
@access("customer")
@ratelimits.per_ip("REVIEW_RATE_LIMIT")
@idempotent
@blp.arguments(schemas.ReviewCreateSchema)
@blp.links(201, {"review_id": "$response.body#/id"},
           EditReview=("reviews_edit_my_review", "Change the review (it goes back to staff)."),
           DeleteReview=("reviews_delete_my_review", "Delete the review."))
@blp.response(201, schemas.MyReviewSchema)
@blp.alt_response(404, description="product_not_found: no such active product")
@blp.alt_response(409, description="purchase_required: only an account with a paid order "
                                    "for the product may review it; already_reviewed (with "
                                    "`review_id`): edit that review instead")
@blp.alt_response(422, description="Invalid fields")
@blp.alt_response(429, description="Too many reviews from this address")
def write_review(data: dict, slug: str):
    """Review a product you bought: it is `pending` until the clinic approves it."""
    review = services.write(session=db.session, slug=slug, user=current_user(), **data)
    db.session.commit()
    return review


@blp.route("/me/reviews")
@access("customer")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, schemas.MyReviewPageSchema)
def list_my_reviews(page: int, per_page: int):
    """Your reviews, newest first, each with its status (and why, if it was rejected)."""
    items, total = services.list_mine(session=db.session, user=current_user(), page=page,
                                      per_page=per_page)
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@blp.route("/me/reviews/<int:review_id>", methods=["PATCH"])
@access("customer")
@ratelimits.per_ip("REVIEW_RATE_LIMIT")
@blp.arguments(schemas.ReviewUpdateSchema)
@blp.response(200, schemas.MyReviewSchema)
@blp.alt_response(404, description="review_not_found")
@blp.alt_response(422, description="Invalid fields")
@blp.alt_response(429, description="Too many reviews or edits from this address")
def edit_my_review(changes: dict, review_id: int):
    """Change your review; a changed review goes back to the clinic (`pending`) before it
    shows again."""
    review = services.edit(session=db.session, user=current_user(), review_id=review_id,
                           changes=changes)
    db.session.commit()
    return review


@blp.route("/me/reviews/<int:review_id>", methods=["DELETE"])
@access("customer")
@blp.response(204)
@blp.alt_response(404, description="review_not_found")
def delete_my_review(review_id: int):
    """Delete your review."""
    services.remove(session=db.session, user=current_user(), review_id=review_id)
    db.session.commit()


@blp.route("/admin/reviews")
@access("staff")
@blp.arguments(schemas.ReviewQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.StaffReviewPageSchema)
@documents_csv
def list_staff_reviews(page: int, per_page: int, format: str | None = None, **filters):
    """Reviews, newest first (`status=pending` for those waiting to be approved)."""
    return page_or_csv(session=db.session, stmt=services.list_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.StaffReviewSchema(),
                       filename="reviews")


@blp.route("/admin/reviews/<int:review_id>")
@access("staff")
@blp.response(200, schemas.StaffReviewSchema)
@blp.alt_response(404, description="review_not_found")
def get_review(review_id: int):
    """One review."""
    return services.get(session=db.session, review_id=review_id)


@blp.route("/admin/reviews/<int:review_id>/approve", methods=["POST"])
@access("staff")
@blp.arguments(schemas.ReviewApproveSchema)
@blp.response(200, schemas.StaffReviewSchema)
@blp.alt_response(404, description="review_not_found")
@blp.alt_response(409, description="invalid_review_transition: approved already; "
                                    "review_changed: the customer edited it since you read it")
def approve_review(data: dict, review_id: int):
    """Publish a pending (or rejected) review on the product page (audited): the version
    staff read, named by its `updated_at`."""
    services.approve(session=db.session, actor=current_user(), review_id=review_id,
                     read_at=data["updated_at"])
    db.session.commit()
    return services.get(session=db.session, review_id=review_id)


@blp.route("/admin/reviews/<int:review_id>/reject", methods=["POST"])
@access("staff")
@blp.arguments(schemas.ReviewRejectSchema)
@blp.response(200, schemas.StaffReviewSchema)
@blp.alt_response(404, description="review_not_found")
@blp.alt_response(409, description="invalid_review_transition: rejected already")
@blp.alt_response(422, description="No reason given")
def reject_review(data: dict, review_id: int):
    """Keep a review off (or take it down from) the product page; the customer is emailed
    the reason (audited)."""
    services.reject(session=db.session, actor=current_user(), review_id=review_id, **data)
    db.session.commit()
    return services.get(session=db.session, review_id=review_id)
