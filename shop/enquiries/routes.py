"""POST /treatments/{slug}/enquiries (anyone), and the enquiries for staff."""

from __future__ import annotations

from shop import ratelimits
from shop.accounts.auth import access, current_user
from shop.accounts.export import register_personal_data
from shop.api import Blueprint
from shop.csvio import documents_csv, page_or_csv
from shop.enquiries import schemas, services
from shop.extensions import db

blp = Blueprint("enquiries", __name__, url_prefix="/api/v1",
                description="Treatment enquiries: asking the clinic to arrange a treatment")
register_personal_data("treatment_enquiries", export=services.export_enquiries,
                       erase=services.forget_account)


@blp.route("/treatments/<slug>/enquiries", methods=["POST"])
@access("optional")
@ratelimits.per_ip("ENQUIRY_RATE_LIMIT")
@ratelimits.per_json_field("ENQUIRY_EMAIL_RATE_LIMIT", "email")
@blp.arguments(schemas.EnquiryCreateSchema)
@blp.response(202, schemas.EnquiryAcceptedSchema)
@blp.alt_response(404, description="treatment_not_found")
@blp.alt_response(422, description="Invalid fields")
@blp.alt_response(429, description="Too many enquiries")
def make_enquiry(data: dict, slug: str):
    """Ask the clinic to arrange a treatment: the clinic is emailed, and so is the customer
    (an acknowledgement); the clinic then contacts them to book."""
    enquiry = services.make_enquiry(session=db.session, slug=slug, user=current_user(),
                                    data=data)
    db.session.commit()
    return {"id": enquiry.id, "detail": "Thank you: the clinic will contact you to arrange it."}


@blp.route("/admin/enquiries")
@access("staff")
@blp.arguments(schemas.EnquiryQuerySchema, location="query", as_kwargs=True)
@blp.response(200, schemas.EnquiryPageSchema)
@documents_csv
def list_enquiries(page: int, per_page: int, format: str | None = None, **filters):
    """Treatment enquiries, newest first (`status=new` for those nobody has answered)."""
    return page_or_csv(session=db.session, stmt=services.list_query(**filters), page=page,
                       per_page=per_page, format=format, schema=schemas.EnquirySchema(),
                       filename="enquiries")


@blp.route("/admin/enquiries/<int:enquiry_id>")
@access("staff")
@blp.response(200, schemas.EnquirySchema)
@blp.alt_response(404, description="enquiry_not_found")
def get_enquiry(enquiry_id: int):
    """One enquiry."""
    return services.get(session=db.session, enquiry_id=enquiry_id)


@blp.route("/admin/enquiries/<int:enquiry_id>", methods=["PATCH"])
@access("staff")
@blp.arguments(schemas.EnquiryUpdateSchema)
@blp.response(200, schemas.EnquirySchema)
@blp.alt_response(404, description="enquiry_not_found")
def update_enquiry(changes: dict, enquiry_id: int):
    """Mark an enquiry contacted or closed (closed ones are deleted a year later)."""
    enquiry = services.set_status(session=db.session, actor=current_user(),
                                  enquiry_id=enquiry_id, **changes)
    db.session.commit()
    return enquiry
