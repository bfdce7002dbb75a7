"""The role matrix for every admin endpoint: anonymous 401, customer 403, staff only where
the issue says so, admin everywhere. A new admin route without a row here fails the test."""

from __future__ import annotations

import pytest

SLUG = "glow-sonic-cleansing-brush"
SKU = "GLW-BRUSH-SONIC"
NO_ORDER = 999999  # past the access check, an unknown order is a 404
ADMIN_BLUEPRINTS = ("admin_catalogue", "admin_stock", "admin_audit", "admin_orders",
                    "admin_reports")

ENDPOINTS = [
    # (method, path, json body, lowest role allowed)
    ("GET", "/api/v1/admin/categories", None, "admin"),
    ("POST", "/api/v1/admin/categories", {"slug": "role-test", "name": "Role test"}, "admin"),
    ("GET", "/api/v1/admin/categories/cleansers", None, "admin"),
    ("PATCH", "/api/v1/admin/categories/cleansers", {"position": 2}, "admin"),
    ("DELETE", "/api/v1/admin/categories/no-such-category", None, "admin"),
    ("POST", "/api/v1/admin/categories/serums/publish", None, "admin"),
    ("GET", "/api/v1/admin/products", None, "admin"),
    ("POST", "/api/v1/admin/products", {"slug": "role-test", "name": "Role test",
                                        "category": "cleansers"}, "admin"),
    ("GET", f"/api/v1/admin/products/{SLUG}", None, "admin"),
    ("PATCH", f"/api/v1/admin/products/{SLUG}", {"name": "Renamed"}, "admin"),
    ("POST", f"/api/v1/admin/products/{SLUG}/publish", None, "admin"),
    ("POST", f"/api/v1/admin/products/{SLUG}/unpublish", None, "admin"),
    ("POST", f"/api/v1/admin/products/{SLUG}/archive", None, "admin"),
    ("DELETE", "/api/v1/admin/products/no-such-product", None, "admin"),
    ("POST", f"/api/v1/admin/products/{SLUG}/variants",
     {"sku": "ROLE-TEST-1", "name": "Travel", "price": {"amount": 900, "currency": "GBP"}},
     "admin"),
    ("PATCH", f"/api/v1/admin/products/{SLUG}/variants/{SKU}",
     {"price": {"amount": 9100, "currency": "GBP"}}, "admin"),
    ("POST", f"/api/v1/admin/products/{SLUG}/variants/{SKU}/archive", None, "admin"),
    ("DELETE", f"/api/v1/admin/products/{SLUG}/variants/NO-SUCH-SKU", None, "admin"),
    ("GET", "/api/v1/admin/treatments", None, "admin"),
    ("POST", "/api/v1/admin/treatments", {"slug": "role-test", "name": "Role test",
                                          "duration_minutes": 30,
                                          "price": {"amount": 5000, "currency": "GBP"}},
     "admin"),
    ("GET", "/api/v1/admin/treatments/hydra-facial", None, "admin"),
    ("PATCH", "/api/v1/admin/treatments/hydra-facial", {"duration_minutes": 75}, "admin"),
    ("POST", "/api/v1/admin/treatments/hydra-facial/archive", None, "admin"),
    ("GET", "/api/v1/admin/catalogue/export", None, "admin"),
    ("POST", "/api/v1/admin/catalogue/import", "type,slug\r\n", "admin"),
    ("GET", "/api/v1/admin/audit", None, "admin"),
    ("GET", "/api/v1/admin/stock", None, "staff"),
    ("POST", "/api/v1/admin/stock/adjustments",
     {"sku": SKU, "reason": "received", "quantity": 1}, "staff"),
    ("GET", "/api/v1/admin/stock/movements", None, "staff"),
    ("GET", "/api/v1/admin/orders", None, "staff"),
    ("GET", f"/api/v1/admin/orders/{NO_ORDER}", None, "staff"),
    ("POST", f"/api/v1/admin/orders/{NO_ORDER}/fulfil", {"collected": True}, "staff"),
    ("POST", f"/api/v1/admin/orders/{NO_ORDER}/complete", None, "staff"),
    ("POST", f"/api/v1/admin/orders/{NO_ORDER}/notes", {"text": "role test"}, "staff"),
    ("POST", f"/api/v1/admin/orders/{NO_ORDER}/resolve", {"note": "role test"}, "staff"),
    ("PUT", f"/api/v1/admin/orders/{NO_ORDER}/shipping-address",
     {"name": "A", "line1": "1 Road", "city": "London", "postcode": "W1G 9SP"}, "staff"),
    ("POST", f"/api/v1/admin/orders/{NO_ORDER}/cancel", {}, "staff"),
    ("POST", f"/api/v1/admin/orders/{NO_ORDER}/refunds",
     {"amount": {"amount": 100, "currency": "GBP"}, "reason": "role test"}, "admin"),
    ("GET", "/api/v1/admin/reports/sales", None, "admin"),
]


def call(client, method: str, path: str, body, headers: dict | None = None):
    kwargs = {"headers": headers or {}}
    if isinstance(body, str):
        kwargs.update(data=body, content_type="text/csv")
    elif body is not None:
        kwargs["json"] = body
    return client.open(path, method=method, **kwargs)


def _endpoint_id(endpoint) -> str:
    return f"{endpoint[0]} {endpoint[1]}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_endpoint_id)
def test_role_matrix(client, customer_headers, staff, admin, endpoint):
    method, path, body, lowest = endpoint
    anonymous = call(client, method, path, body)
    assert anonymous.status_code == 401, anonymous.json
    assert anonymous.content_type == "application/problem+json"
    assert call(client, method, path, body, customer_headers).status_code == 403
    as_staff = call(client, method, path, body, staff.headers)
    if lowest == "admin":
        assert as_staff.status_code == 403
        assert as_staff.json["code"] == "insufficient_role"
    else:
        assert as_staff.status_code not in (401, 403, 500), as_staff.get_data(as_text=True)
    as_admin = call(client, method, path, body, admin.headers)
    assert as_admin.status_code not in (401, 403, 500), as_admin.get_data(as_text=True)


def test_every_admin_route_is_in_the_matrix(app):
    listed = {(method, path) for method, path, _, _ in ENDPOINTS}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ADMIN_BLUEPRINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert any(
                m == method and _matches(rule.rule, path) for m, path in listed
            ), f"{method} {rule.rule} has no row in the role matrix"


def _matches(rule: str, path: str) -> bool:
    rule_parts, path_parts = rule.strip("/").split("/"), path.strip("/").split("/")
    if len(rule_parts) != len(path_parts):
        return False
    for pattern, part in zip(rule_parts, path_parts, strict=True):
        if pattern.startswith("<any("):
            options = pattern[len("<any("):pattern.index(")")].replace(" ", "").split(",")
            if part not in options:
                return False
        elif not pattern.startswith("<") and pattern != part:
            return False
    return True
