"""Every admin blueprint, registered with the API in one call from create_app()."""

from shop.api import ShopApi


def register_admin_blueprints(api: ShopApi) -> None:
    from shop.admin.catalogue.routes import blp as catalogue
    from shop.admin.customers.routes import blp as customers
    from shop.admin.orders.routes import blp as orders
    from shop.admin.reports.routes import blp as reports
    from shop.admin.stock.routes import blp as stock
    from shop.admin.summary.routes import blp as summary
    from shop.audit.routes import blp as audit

    for blueprint in (summary, catalogue, stock, orders, customers, reports, audit):
        api.register_blueprint(blueprint)
