"""What the app's search box offers while the customer types: products, categories and
treatments whose name has a word starting with what was typed ("hyal" finds "MOIST
Hyaluronic Acid Serum"). Public and cached like the rest of the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, String, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from shop.catalogue.models import Category, Product, Treatment


@dataclass(frozen=True)
class Suggestion:
    kind: str  # product | category | treatment
    slug: str
    name: str


def _word_starts(name: InstrumentedAttribute[str], typed: str) -> ColumnElement[bool]:
    """A word of the name starts with `typed` (any case; LIKE's wildcards taken literally)."""
    lowered = func.lower(name, type_=String)
    return or_(lowered.startswith(typed, autoescape=True),
               lowered.contains(f" {typed}", autoescape=True),
               lowered.contains(f"-{typed}", autoescape=True))


def matching(model: type[Category | Treatment | Product], typed: str, limit: int) -> Select:
    """(slug, name, whether the name starts with it) of the first `limit` on show."""
    starts = func.lower(model.name, type_=String).startswith(typed, autoescape=True)
    return (select(model.slug, model.name, starts)
            .where(model.status == "active", _word_starts(model.name, typed))
            .order_by(~starts, model.name, model.slug).limit(limit))


KINDS = (("category", Category), ("treatment", Treatment), ("product", Product))


def suggest(*, session: Session, q: str, limit: int) -> list[Suggestion]:
    """Up to `limit` suggestions: names starting with the text before names with a later word
    starting with it; at each, categories, then treatments, then products, by name."""
    typed = " ".join(q.lower().split())
    ranked = []
    for rank, (kind, model) in enumerate(KINDS):
        rows = session.execute(matching(model, typed, limit)).all()
        ranked += [(not first, rank, name, Suggestion(kind, slug, name))
                   for slug, name, first in rows]
    ranked.sort(key=lambda row: row[:3])
    return [row[3] for row in ranked[:limit]]
