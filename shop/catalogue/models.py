"""Catalogue: categories, products and their variants, concerns, the clinic's treatments."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    REAL,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import Base, UtcDateTime, utcnow
from shop.money import Money

if TYPE_CHECKING:
    from shop.inventory.models import StockLevel

SKIN_TYPES = ("oily", "combination", "dry", "normal", "sensitive")
ROUTINE_STEPS = ("cleanse", "treat", "hydrate", "mask")
TIMES_OF_USE = ("am", "pm", "both", "weekly")
STATUSES = ("draft", "active", "archived")
AVAILABLE_DISPLAY_CAP = 10

product_concerns = Table(
    "product_concerns",
    Base.metadata,
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("concern_id", ForeignKey("concerns.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_product_concerns_concern_id", "concern_id"),
)

# Where list pages are read on PostgreSQL (migration 0012): one row per active product and
# per facet it can be listed under ('all', 'category:<id>' (0014), each 'skin:...' and
# 'concern:...' tag of products.facets, each 'skin:...&concern:...' pair), with the columns
# the list filters and sorts read. A page without a search walks one index of one facet in
# its sort's order and counts its matches in another, so its cost does not grow with the
# catalogue. Written by a trigger on products; empty on SQLite, whose pages read products.
product_listings = Table(
    "product_listings",
    Base.metadata,
    # (product_id first: the trigger replaces a product's rows)
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("facet", Text, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category_id", Integer, nullable=False),
    Column("created_at", UtcDateTime(timezone=True), nullable=False),
    Column("min_active_price", Integer),
    Column("max_active_price", Integer),
    Index("ix_product_listings_facet_name", "facet", "name", "product_id",
          postgresql_include=["min_active_price", "max_active_price", "category_id"]),
    Index("ix_product_listings_facet_price", "facet", "min_active_price", "name", "product_id",
          postgresql_include=["max_active_price", "category_id"]),
    Index("ix_product_listings_facet_created_at", "facet", "created_at", "product_id",
          postgresql_include=["min_active_price", "max_active_price", "category_id"]),
    Index("ix_product_listings_facet_max_price", "facet", "max_active_price",
          postgresql_include=["min_active_price", "category_id"]),
)

# Where a one-word search is read on PostgreSQL (migration 0013): one row per active product
# and per ASCII word of its search vector, with the word's rank in the product (ts_rank
# against the word alone: a one-word search's relevance) and the columns the list filters
# and sorts read. A search ranked by relevance walks its word's rows in that order and counts
# its matches in the same index, so its cost does not grow with the catalogue. Written by a
# trigger on products; empty on SQLite, whose searches read products.
product_search_terms = Table(
    "product_search_terms",
    Base.metadata,
    # (product_id first: the trigger replaces a product's rows)
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("term", Text, primary_key=True),
    Column("rank", REAL, nullable=False),
    Column("name", String(200), nullable=False),
    Column("category_id", Integer, nullable=False),
    Column("created_at", UtcDateTime(timezone=True), nullable=False),
    Column("facets", ARRAY(Text()).with_variant(JSON(), "sqlite"), nullable=False),
    Column("min_active_price", Integer),
    Column("max_active_price", Integer),
)
Index("ix_product_search_terms_term_rank", product_search_terms.c.term,
      product_search_terms.c.rank.desc(), product_search_terms.c.name,
      product_search_terms.c.product_id,
      postgresql_include=["facets", "category_id", "min_active_price", "max_active_price"])

treatment_concerns = Table(
    "treatment_concerns",
    Base.metadata,
    Column("treatment_id", ForeignKey("treatments.id", ondelete="CASCADE"), primary_key=True),
    Column("concern_id", ForeignKey("concerns.id", ondelete="CASCADE"), primary_key=True),
)


class Category(Base):
    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'archived')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Concern(Base):
    __tablename__ = "concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")


class ProductSkinType(Base):
    __tablename__ = "product_skin_types"
    __table_args__ = (
        CheckConstraint(
            "skin_type IN ('oily', 'combination', 'dry', 'normal', 'sensitive')", name="skin_type"
        ),
        Index("ix_product_skin_types_skin_type", "skin_type"),
    )

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    skin_type: Mapped[str] = mapped_column(String(20), primary_key=True)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'active', 'archived')", name="status"),
        Index("ix_products_status_category_id", "status", "category_id"),
        Index("ix_products_status_name", "status", "name"),
        Index("ix_products_status_created_at", "status", "created_at"),
        Index("ix_products_status_min_active_price", "status", "min_active_price"),
        # GIN on PostgreSQL; on SQLite a plain index of an always-empty column
        Index("ix_products_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_products_facets", "facets", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    short_description: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    how_to_use: Mapped[str] = mapped_column(Text, default="")
    key_ingredients: Mapped[list[str]] = mapped_column(JSON, default=list)
    routine_step: Mapped[str | None] = mapped_column(String(20))
    time_of_use: Mapped[str | None] = mapped_column(String(20))
    image_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    search_text: Mapped[str] = mapped_column(Text, default="")
    # to_tsvector('english', search_text), written by a trigger (migration 0008) on
    # PostgreSQL; empty on SQLite, where search is a LIKE over search_text. Never loaded.
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR().with_variant(Text(), "sqlite"), deferred=True
    )
    # What the list filters ask about, written by triggers (migration 0010) on PostgreSQL:
    # 'skin:<skin type>' and 'concern:<concern slug>' tags, and the lowest and highest price
    # of the active variants. Empty on SQLite, whose filters join the tables. Never loaded.
    facets: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text()).with_variant(JSON(), "sqlite"), deferred=True
    )
    min_active_price: Mapped[int | None] = mapped_column(Integer, deferred=True)
    max_active_price: Mapped[int | None] = mapped_column(Integer, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category: Mapped[Category] = relationship(lazy="joined", innerjoin=True)
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", order_by="Variant.position, Variant.id",
        cascade="all, delete-orphan",
    )
    concerns: Mapped[list[Concern]] = relationship(
        secondary=product_concerns, order_by="Concern.slug"
    )
    skin_type_rows: Mapped[list[ProductSkinType]] = relationship(
        cascade="all, delete-orphan", order_by="ProductSkinType.skin_type"
    )

    @property
    def skin_types(self) -> list[str]:
        return [row.skin_type for row in self.skin_type_rows]

    @skin_types.setter
    def skin_types(self, values: list[str]) -> None:
        self.skin_type_rows = [ProductSkinType(skin_type=value) for value in dict.fromkeys(values)]

    def rebuild_search_text(self) -> None:
        """Denormalised text the full-text index and the SQLite fallback search over."""
        parts = [self.name, self.short_description, self.description, *self.key_ingredients]
        parts += [concern.name for concern in self.concerns]
        self.search_text = " ".join(part for part in parts if part).lower()


class Variant(Base):
    __tablename__ = "product_variants"
    __table_args__ = (
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        CheckConstraint(
            "compare_at_amount IS NULL OR compare_at_amount > price_amount",
            name="compare_at_above_price",
        ),
        CheckConstraint(
            "voucher_kind IS NULL OR (voucher_kind = 'money' AND treatment_id IS NULL) "
            "OR (voucher_kind = 'treatment' AND treatment_id IS NOT NULL)",
            name="voucher_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    price_amount: Mapped[int] = mapped_column(Integer)
    compare_at_amount: Mapped[int | None] = mapped_column(Integer)
    cost_amount: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    barcode: Mapped[str | None] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Gift vouchers (migration 0007): such variants are never stocked or shipped.
    voucher_kind: Mapped[str | None] = mapped_column(String(20))
    treatment_id: Mapped[int | None] = mapped_column(ForeignKey("treatments.id"))
    voucher_custom_amount: Mapped[bool] = mapped_column(default=False, server_default=false())

    product: Mapped[Product] = relationship(back_populates="variants")
    stock_level: Mapped[StockLevel] = relationship(
        back_populates="variant", uselist=False, cascade="all, delete-orphan"
    )

    @property
    def price(self) -> Money:
        return Money(self.price_amount, self.currency)

    @property
    def available_units(self) -> int:
        if self.voucher_kind is not None:  # vouchers are issued, not stocked
            return AVAILABLE_DISPLAY_CAP
        return self.stock_level.available if self.stock_level else 0

    @property
    def archived(self) -> bool:
        """Never sold or restocked again: taken off sale itself, or its product archived."""
        return not self.is_active or self.product.status == "archived"

    @property
    def in_stock(self) -> bool:
        return self.available_units > 0

    @property
    def available(self) -> int:
        """What the storefront may show: exact counts above a small cap are nobody's business."""
        return min(self.available_units, AVAILABLE_DISPLAY_CAP)

    @property
    def compare_at_price(self) -> Money | None:
        if self.compare_at_amount is None:
            return None
        return Money(self.compare_at_amount, self.currency)


class Treatment(Base):
    """A clinic treatment: never shipped, bookable at the clinic, giftable as a voucher."""

    __tablename__ = "treatments"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'active', 'archived')", name="status"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    concerns: Mapped[list[Concern]] = relationship(
        secondary=treatment_concerns, order_by="Concern.slug"
    )

    @property
    def price(self) -> Money:
        return Money(self.price_amount, self.currency)
