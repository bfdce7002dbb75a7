"""Staff operations: the back-office API under /api/v1/admin.

One sub-package per area (catalogue, stock, orders, reports), each with schemas, services
and routes; every write records an audit entry (shop.audit) in its own transaction.
"""
