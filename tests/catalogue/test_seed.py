"""The seed catalogue: data files, loaded idempotently by `flask seed`."""

from sqlalchemy import func, select

from shop.catalogue.models import Product, Treatment, Variant
from shop.inventory.models import StockLevel, StockMovement


def counts(session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(model))
        for model in (Product, Variant, Treatment, StockMovement)
    )


def test_seed_twice_changes_nothing(app, db_session):
    before = counts(db_session)
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "'products': 0" in result.output
    assert counts(db_session) == before


def test_seed_has_the_articles_catalogue(db_session):
    names = set(db_session.scalars(select(Product.name)))
    assert any("MOIST" in name for name in names)
    assert any("Clay Mask" in name for name in names)
    assert sum("Cleansing Brush" in name for name in names) >= 2
    assert db_session.scalar(select(func.count()).select_from(Product)) >= 30
    treatments = set(db_session.scalars(select(Treatment.slug)))
    assert {"hydra-facial", "aquagold", "meso-botox"} <= treatments


def test_opening_stock_is_in_the_ledger(db_session):
    rows = db_session.execute(
        select(StockLevel.variant_id, StockLevel.on_hand, func.coalesce(
            select(func.sum(StockMovement.quantity))
            .where(StockMovement.variant_id == StockLevel.variant_id)
            .scalar_subquery(), 0))
    ).all()
    assert rows and all(on_hand == ledger for _, on_hand, ledger in rows)


def test_scale_generates_synthetic_products_once(app, db_session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed", "--scale", "30"]).exit_code == 0
    synthetic = select(func.count()).select_from(Product).where(Product.slug.like("synthetic-%"))
    assert db_session.scalar(synthetic) == 30
    assert "synthetic products created: 0" in runner.invoke(args=["seed", "--scale", "30"]).output
    assert db_session.scalar(synthetic) == 30
