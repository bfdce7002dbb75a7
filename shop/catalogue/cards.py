"""Product cards: a page of products from one small query and per-process cached item JSON.

A response-cache miss (a filter combination never asked before) still shows products that
other pages showed a moment ago. Each list item's JSON (ProductSummarySchema) is therefore
kept per process as a card, for one catalogue version (every catalogue write bumps it, see
shop/catalogue_version.py), without its availability: stock moves without a version bump and
is read with every page. On PostgreSQL a page is one statement (page_statement): the ids of
the page's products, the count of the matches, and each product's variant ids with units
available; the cards then only need the units filled in. Writing the items' JSON in the
database instead (json_build_object per product, variant, concern) cost 0.5 of the page's
1.2 ms of database CPU.

A card is built (one query for its rows, one for variants, one for tags: listing.py) when it
is missing, when the version moved, or when the page's variant ids differ from the card's (a
variant added or removed since): then the freshly read product is sent as it is. The store
is on when CATALOGUE_RESPONSE_CACHE_SECONDS > 0 (the catalogue's per-process caches); with
it off, every card is built for the page it is in. SQLite pages stay listing.product_page().
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from threading import Lock

from flask import Flask, current_app
from sqlalchemy import Select, case, func, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shop.catalogue import listing
from shop.catalogue.cache import version_clock
from shop.catalogue.models import AVAILABLE_DISPLAY_CAP, Variant
from shop.catalogue.services import ProductFilters
from shop.inventory.models import StockLevel

STORE_KEY = "shop.product_cards"
MAX_CARDS = 20_000  # per process: about 1 kB each
AVAILABILITY = ("in_stock", "available")  # the last two fields of a variant, filled per page


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Card:
    """A product's list item as JSON text, cut where each variant's availability goes."""

    variant_ids: tuple[int, ...]
    head: str  # '{"slug":...,"variants":['
    variants: tuple[str, ...]  # each variant's object up to its availability, unclosed

    @classmethod
    def of(cls, product: dict) -> Card:
        head = _dumps({key: value for key, value in product.items() if key != "variants"})
        variants = tuple(
            _dumps({key: value for key, value in variant.items() if key not in AVAILABILITY})[:-1]
            for variant in product["variants"])
        return cls(tuple(variant["id"] for variant in product["variants"]),
                   head[:-1] + ',"variants":[', variants)

    def render(self, units: Sequence[int]) -> str:
        """The item with `units` available of each variant (in variant order)."""
        return self.head + ",".join(
            f'{text},"in_stock":{"true" if count > 0 else "false"},'
            f'"available":{min(count, AVAILABLE_DISPLAY_CAP)}}}'
            for text, count in zip(self.variants, units, strict=True)) + "]}"


class CardStore:
    """Cards of one catalogue version, least recently used dropped past MAX_CARDS."""

    def __init__(self, max_cards: int = MAX_CARDS) -> None:
        self._cards: OrderedDict[int, Card] = OrderedDict()
        self._version: int | None = None
        self._max_cards = max_cards
        self._lock = Lock()

    def get(self, version: int, product_ids: Sequence[int]) -> dict[int, Card]:
        with self._lock:
            if version != self._version:
                self._cards.clear()
                self._version = version
            found = {}
            for product_id in product_ids:
                card = self._cards.get(product_id)
                if card is not None:
                    self._cards.move_to_end(product_id)
                    found[product_id] = card
            return found

    def put(self, version: int, cards: dict[int, Card]) -> None:
        with self._lock:
            if version != self._version:
                return  # another request saw a newer version meanwhile
            self._cards.update(cards)
            while len(self._cards) > self._max_cards:
                self._cards.popitem(last=False)


def install(app: Flask) -> None:
    app.extensions[STORE_KEY] = CardStore()
    app.teardown_appcontext(listing.close_reader)


def _store() -> tuple[CardStore | None, int]:
    """The store and the catalogue version its cards must be of; no store when it is off or
    the version cannot be read (then every card is built for its page)."""
    store = current_app.extensions.get(STORE_KEY)
    if store is None or current_app.config["CATALOGUE_RESPONSE_CACHE_SECONDS"] <= 0:
        return None, 0
    try:
        return store, version_clock(current_app).version()
    except SQLAlchemyError:
        return None, 0


def _build_page_statement(session: Session, filters: ProductFilters, *, walk: bool) -> Select:
    """(product_id, total, variant_ids, units) per product of the page, in page order."""
    page = listing.page_subquery(session, filters, walk=walk)
    stock = func.coalesce(StockLevel.on_hand - StockLevel.reserved, 0)  # no stock row: none
    units = case((Variant.voucher_kind.is_not(None), AVAILABLE_DISPLAY_CAP),
                 else_=func.greatest(stock, 0))  # vouchers are issued, not stocked
    order = (Variant.position, Variant.id)  # as Product.variants holds them
    availability = (
        select(func.array_agg(aggregate_order_by(Variant.id, *order)).label("variant_ids"),
               func.array_agg(aggregate_order_by(units, *order)).label("units"))
        .outerjoin(StockLevel, StockLevel.variant_id == Variant.id)
        .where(Variant.product_id == page.c.product_id, Variant.is_active.is_(True))
        .lateral("availability")
    )
    return (
        select(page.c.product_id, page.c.total, availability.c.variant_ids,
               availability.c.units)
        .select_from(page).join(availability, true())
        .order_by(*listing.ordered_by_keys(session, filters, page))
    )


_page_statements: dict[tuple, Select] = {}


def page_statement(session: Session, filters: ProductFilters, *, walk: bool = False) -> Select:
    return listing.cached_statement(_page_statements, session, filters, _build_page_statement,
                                    walk=walk)


def _items(session: Session, rows: Sequence) -> str:
    store, version = _store()
    ids = [row.product_id for row in rows]
    cards = store.get(version, ids) if store else {}
    stale = [row.product_id for row in rows
             if (card := cards.get(row.product_id)) is None
             or card.variant_ids != tuple(row.variant_ids or ())]
    fresh = listing.product_summaries(session, stale) if stale else {}
    built = {product_id: Card.of(product) for product_id, product in fresh.items()}
    if store and built:
        store.put(version, built)
    cards.update(built)
    items = []
    for row in rows:
        card = cards.get(row.product_id)
        if card is not None and card.variant_ids == tuple(row.variant_ids or ()):
            items.append(card.render(row.units or ()))
        else:  # changed between the two reads (or gone): the fresher read is the answer
            items.append(_dumps(fresh[row.product_id]) if row.product_id in fresh else None)
    return ",".join(item for item in items if item is not None)


def product_page_json(*, session: Session, filters: ProductFilters) -> str:
    """The same page as listing.product_page(), as JSON text."""
    connection = listing.read_without_transaction(session)
    if connection.dialect.name != "postgresql":
        return _dumps(listing.product_page(session=session, filters=filters))
    rows, counted = listing.read_page(session, filters, connection, page_statement)
    total = listing.page_total(filters, counted)
    return (f'{{"items":[{_items(session, rows)}],"page":{filters.page},'
            f'"per_page":{filters.per_page},"total":{total["total"]},'
            f'"total_exact":{"true" if total["total_exact"] else "false"}}}')
